"""Reading the database directly in fault tests (what the API does not show: attempts, fences)."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from app.db.engine import create_engine_for


def query(url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of one SQL query, as dicts (one unpooled connection)."""

    async def run() -> list[dict[str, Any]]:
        engine = create_engine_for(url, pooled=False)
        try:
            async with engine.connect() as conn:
                return [dict(r) for r in (await conn.execute(sa.text(sql), params)).mappings().all()]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def execute(url: str, sql: str, **params: Any) -> None:
    """Run one statement and commit."""

    async def run() -> None:
        engine = create_engine_for(url, pooled=False)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(sql), params)
        finally:
            await engine.dispose()

    asyncio.run(run())
