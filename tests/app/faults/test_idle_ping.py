"""Pooled PostgreSQL connections are pinged only after idling (app.db.engine): a restart is still survived."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from app.db.engine import PING_AFTER_IDLE_S, create_engine_for
from tests.app.faults.pgcluster import PrivateCluster


@pytest.mark.timeout(120)
def test_idle_connections_killed_by_a_restart_are_replaced(private_pg: PrivateCluster) -> None:
    async def run() -> None:
        engine = create_engine_for(private_pg.url(), pool_size=2, max_overflow=0)
        try:
            async with engine.connect() as conn:  # both pooled connections open
                async with engine.connect() as conn2:
                    assert await conn.scalar(sa.text("SELECT 1")) == 1
                    pids = {await conn.scalar(sa.text("SELECT pg_backend_pid()"))}
                    pids.add(await conn2.scalar(sa.text("SELECT pg_backend_pid()")))
            private_pg.stop()  # kills every server process
            private_pg.start()
            await asyncio.sleep(PING_AFTER_IDLE_S + 0.2)
            for _ in range(3):  # no error: the dead connections are noticed by the ping and replaced
                async with engine.connect() as conn:
                    pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
                    assert pid not in pids
        finally:
            await engine.dispose()

    started = time.monotonic()
    asyncio.run(run())
    assert time.monotonic() - started < 100
