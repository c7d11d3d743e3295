"""LISTEN/NOTIFY wake-up on PostgreSQL: an idle worker with a long poll interval takes a new task at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.db.engine import create_engine_for
from app.db.tables import tasks
from app.services.task_database import TaskDatabase
from app.worker.loop import Worker
from tests.app.worker.test_queue import _owner


@pytest.mark.timeout(120)
async def test_new_task_wakes_an_idle_worker(pg_url: str, tmp_path: Path) -> None:
    """(SQLite has no notifications: its workers poll, as the queue tests show.)"""
    engine = create_engine_for(pg_url, pool_size=2, max_overflow=2)
    db = TaskDatabase(engine)
    owner = await _owner(engine)
    worker = Worker(db, data_dir=tmp_path / "data", poll_interval=60)  # polling alone would take a minute
    stop = asyncio.Event()
    running = asyncio.ensure_future(worker.run(stop))
    try:
        await asyncio.sleep(3)  # the slot has polled (nothing) and sleeps; the listener is connected
        task_id = str(uuid.uuid4())
        queued = time.monotonic()
        await db.create_task(
            task_id=task_id,
            owner_id=owner,
            filename="x.pcap",
            file_path=str(tmp_path / "missing.pcap"),
            file_size=1,
            sha256="0" * 64,
            ttl_hours=1,
            max_attempts=1,
            max_pending=5,
        )
        while True:
            async with engine.connect() as conn:
                attempts = await conn.scalar(sa.select(tasks.c.attempts).where(tasks.c.task_id == task_id))
            if attempts:
                break
            assert time.monotonic() - queued < 10, "the idle worker was not woken by the notification"
            await asyncio.sleep(0.05)
        assert time.monotonic() - queued < 5
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(running, timeout=30)
        await engine.dispose()
