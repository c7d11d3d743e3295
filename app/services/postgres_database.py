"""`DatabasePool`: one async connection pool for PostgreSQL (asyncpg) or SQLite (aiosqlite).

Raw SQL helpers take SQLAlchemy `text()` with named `:param` placeholders and return plain dicts;
services that build queries with SQLAlchemy Core use `pool.engine` directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import get_settings, hide_password, normalize_database_url
from app.db.engine import connection_error, create_engine_for
from app.errors import ConfigError


class DatabasePool:
    """The database of DATABASE_URL (or `database_url`), pooled on PostgreSQL.

    `pooled=False` opens a connection per use (NullPool): for short-lived scripts that may forget
    `close()`.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        min_size: int | None = None,
        max_size: int | None = None,
        pooled: bool = True,
    ) -> None:
        settings = get_settings()
        self.url = database_url or settings.DATABASE_URL
        try:
            _, self.db_type = normalize_database_url(self.url)
        except ValueError as exc:
            raise ConfigError(f"invalid database URL {hide_password(self.url)}: {exc}") from None
        self.min_size = settings.DB_POOL_MIN_SIZE if min_size is None else min_size
        self.max_size = settings.DB_POOL_MAX_SIZE if max_size is None else max_size
        self.connect_timeout = settings.DB_CONNECT_TIMEOUT_SECONDS
        self.pool_timeout = settings.DB_POOL_TIMEOUT_SECONDS
        self.pool_recycle = settings.DB_POOL_RECYCLE_SECONDS
        self.pooled = pooled
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy AsyncEngine (created on first use)."""
        if self._engine is None:
            pool_size = max(self.min_size, 1)
            self._engine = create_engine_for(
                self.url,
                pool_size=pool_size,
                max_overflow=max(self.max_size - pool_size, 0),
                connect_timeout=self.connect_timeout,
                pool_timeout=self.pool_timeout,
                pool_recycle=self.pool_recycle,
                pooled=self.pooled,
            )
        return self._engine

    @property
    def safe_url(self) -> str:
        """The URL with its password hidden."""
        return hide_password(self.url)

    async def connect(self) -> None:
        """Open the pool and check the database answers; raise DatabaseUnavailable with a clear message."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except (OSError, TimeoutError, DBAPIError) as exc:
            await self.close()
            raise connection_error(self.url, exc) from None

    async def close(self) -> None:
        """Close every connection of the pool."""
        if self._engine is not None:
            engine, self._engine = self._engine, None
            await engine.dispose()

    async def fetch_one(self, query: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The first row of the query as a dict, or None."""
        async with self.engine.connect() as connection:
            result = await connection.execute(sa.text(query), dict(params or {}))
            row = result.mappings().first()
        return dict(row) if row is not None else None

    async def fetch_all(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every row of the query, as dicts."""
        async with self.engine.connect() as connection:
            result = await connection.execute(sa.text(query), dict(params or {}))
            return [dict(row) for row in result.mappings().all()]

    async def execute(self, query: str, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement in its own transaction; return the number of rows it affected."""
        async with self.engine.begin() as connection:
            result = await connection.execute(sa.text(query), dict(params or {}))
            return int(result.rowcount or 0)

    async def __aenter__(self) -> DatabasePool:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
