"""Reading the database directly in fault tests (what the API does not show: attempts, fences)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa

from app.db.engine import create_engine_for

T = TypeVar("T")


def _in_thread(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run in a thread of its own: callers may hold a running loop (Playwright's sync API)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def query(url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of one SQL query, as dicts (one unpooled connection)."""

    async def run() -> list[dict[str, Any]]:
        engine = create_engine_for(url, pooled=False)
        try:
            async with engine.connect() as conn:
                return [dict(r) for r in (await conn.execute(sa.text(sql), params)).mappings().all()]
        finally:
            await engine.dispose()

    return _in_thread(run)


def execute(url: str, sql: str, **params: Any) -> None:
    """Run one statement and commit."""

    async def run() -> None:
        engine = create_engine_for(url, pooled=False)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(sql), params)
        finally:
            await engine.dispose()

    _in_thread(run)


def insert_rows(url: str, table: sa.Table, **values: Any) -> None:
    """Insert one row through the table's SQLAlchemy types (dates, UUIDs) and commit."""

    async def run() -> None:
        engine = create_engine_for(url, pooled=False)
        try:
            async with engine.begin() as conn:
                await conn.execute(table.insert().values(**values))
        finally:
            await engine.dispose()

    _in_thread(run)
