"""Async engines for PostgreSQL (asyncpg) and SQLite (aiosqlite), and readable connection errors."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.config import hide_password, normalize_database_url, sqlite_file
from app.errors import DatabaseUnavailable

SQLITE_BUSY_TIMEOUT_MS = 5000
PING_AFTER_IDLE_S = 1.0  # pooled PostgreSQL connections idle this long are pinged before use


def create_engine_for(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 5,
    connect_timeout: float = 5.0,
    pool_timeout: float = 10.0,
    pool_recycle: int = 1800,
    for_migrations: bool = False,
    pooled: bool = True,
) -> AsyncEngine:
    """An AsyncEngine for DATABASE_URL (any supported spelling).

    SQLite connections get WAL, a busy timeout and, except for migrations, enforced foreign keys
    (Alembic's batch mode recreates tables, which must not fire ON DELETE CASCADE). Migrations and
    `pooled=False` use no pool: each connection closes when released.
    """
    unpooled = for_migrations or not pooled
    async_url, db_type = normalize_database_url(url)
    if db_type == "postgresql":
        kwargs: dict[str, Any] = {"connect_args": {"timeout": connect_timeout}}
        if unpooled:
            kwargs["poolclass"] = NullPool
        else:
            # pool_size connections stay open (the steady load), max_overflow more open under bursts and
            # close when returned; a ping after idling replaces connections a database restart killed.
            kwargs.update(
                pool_size=max(pool_size, 1),
                max_overflow=max(max_overflow, 0),
                pool_recycle=pool_recycle,
                pool_timeout=pool_timeout,
            )
        engine = create_async_engine(async_url, **kwargs)
        if not unpooled:
            _ping_after_idle(engine)
        return engine

    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        async_url, poolclass=NullPool if unpooled else None, connect_args={"timeout": connect_timeout}
    )
    foreign_keys = not for_migrations

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if path is not None:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    return engine


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection on checkout when it has been idle PING_AFTER_IDLE_S or more.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: three round trips on asyncpg (BEGIN, a query,
    ROLLBACK), more than the query a request then runs. A connection returned a moment ago was alive a
    moment ago; one that sat idle may have died with a database restart or an idle timeout. A failed ping
    invalidates the whole pool (a restart kills every connection) and the checkout retries on a new
    connection. A connection that dies while busy fails its statement, which also invalidates the pool.
    """

    @sa.event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["returned_at"] = time.monotonic()

    @sa.event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_S:
            return  # new, or back in the pool only a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa.exc.InvalidatePoolError(f"ping of an idle connection failed: {exc}") from exc


def connection_error(url: str, exc: BaseException) -> DatabaseUnavailable:
    """A DatabaseUnavailable naming the host and database (never the password) and the cause."""
    try:
        parsed = sa.engine.make_url(normalize_database_url(url)[0])
        host = f" on {parsed.host}:{parsed.port or 5432}" if parsed.host else ""
        where = f"database {parsed.database!r}{host}"
    except ValueError:
        where = "the database"
    cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = cause[0] if cause else type(exc).__name__
    if not reason or reason == "None":
        reason = type(exc).__name__
    return DatabaseUnavailable(f"cannot connect to {where} ({hide_password(url)}): {reason}")


@asynccontextmanager
async def migration_connection(url: str) -> AsyncIterator[AsyncConnection]:
    """One unpooled connection for Alembic; an unreachable database raises a readable DatabaseUnavailable."""
    engine = create_engine_for(url, for_migrations=True)
    try:
        try:
            connection = await engine.connect()
        except (OSError, TimeoutError, DBAPIError) as exc:
            raise connection_error(url, exc) from None
        try:
            yield connection
        finally:
            await connection.close()
    finally:
        await engine.dispose()
