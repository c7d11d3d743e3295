"""Issue 12.6: per-analysis wall-clock and memory limits stop the engine process and fail the task with
the limit in its reason (a real engine child process, both databases)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine_for
from app.services.task_database import TaskDatabase
from app.worker.loop import Worker
from tests.app.faults.captures import write_tcp_capture
from tests.app.worker.test_queue import _owner


@pytest.fixture
async def engine(app_env: Any) -> AsyncIterator[AsyncEngine]:
    eng = create_engine_for(app_env.DATABASE_URL, pool_size=2, max_overflow=2)
    yield eng
    await eng.dispose()


async def _run_one(engine: AsyncEngine, capture: Path, data_dir: Path, **limits: float) -> Any:
    db = TaskDatabase(engine)
    task_id = str(uuid.uuid4())
    await db.create_task(
        task_id=task_id,
        owner_id=await _owner(engine),
        filename="c.pcap",
        file_path=str(capture),
        file_size=capture.stat().st_size,
        sha256="0" * 64,
        ttl_hours=1,
        max_attempts=3,
        max_pending=5,
    )
    worker = Worker(db, data_dir=data_dir, lease_seconds=15, **limits)  # type: ignore[arg-type]
    claimed = await db.claim_next(worker.worker_id, 15)
    assert claimed is not None
    await worker.process(claimed, asyncio.Event())
    return await db.get_task(task_id, None)


@pytest.mark.timeout(120)
async def test_time_limit_fails_the_task(engine: AsyncEngine, tmp_path: Path) -> None:
    # big enough that the engine process (start-up + analysis) is still running at the first check (0.25 s)
    # on a fast, idle machine
    capture = write_tcp_capture(tmp_path / "c.pcap", 600_000)
    task = await _run_one(engine, capture, tmp_path / "data", max_analysis_seconds=0.2)
    assert task.status == "failed" and task.error_message == "the analysis exceeded the time limit of 0.2 s"
    assert not list((tmp_path / "data" / "reports").rglob("*.*"))  # nothing half-written is kept


@pytest.mark.timeout(120)
async def test_memory_limit_fails_the_task(engine: AsyncEngine, tmp_path: Path) -> None:
    capture = write_tcp_capture(tmp_path / "c.pcap", 20_000)
    task = await _run_one(engine, capture, tmp_path / "data", max_analysis_mb=20)
    assert task.status == "failed" and task.error_message == "the analysis exceeded the memory limit of 20 MB"


@pytest.mark.timeout(120)
async def test_generous_limits_let_the_analysis_complete(engine: AsyncEngine, tmp_path: Path) -> None:
    capture = write_tcp_capture(tmp_path / "c.pcap", 2_000)
    task = await _run_one(engine, capture, tmp_path / "data", max_analysis_seconds=120, max_analysis_mb=4096)
    assert task.status == "completed" and task.total_packets == 2_000
    assert (tmp_path / "data" / "reports" / task.task_id / "1.json").is_file()
