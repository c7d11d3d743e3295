"""The tasks table as a queue: one claim per task under concurrency, leases, retries, exhausted attempts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine_for
from app.db.tables import progress_snapshots, tasks, users
from app.services.task_database import TaskDatabase, TooManyPendingTasks


@pytest.fixture
async def engine(app_env: Any) -> AsyncIterator[AsyncEngine]:
    eng = create_engine_for(app_env.DATABASE_URL, pool_size=5, max_overflow=5)
    yield eng
    await eng.dispose()


async def _owner(engine: AsyncEngine) -> str:
    uid = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            users.insert().values(
                id=uid,
                username=f"u{uid.hex[:8]}",
                email=f"{uid.hex[:8]}@example.org",
                hashed_password="x",
                role="user",
                is_active=True,
                is_approved=True,
            )
        )
    return str(uid)


async def _tasks(db: TaskDatabase, owner: str, n: int, max_attempts: int = 3) -> list[str]:
    ids = []
    for i in range(n):
        task = await db.create_task(
            task_id=str(uuid.uuid4()),
            owner_id=owner,
            filename=f"c{i}.pcap",
            file_path=f"/nonexistent/{i}",
            file_size=1,
            sha256="0" * 64,
            ttl_hours=1,
            max_attempts=max_attempts,
            max_pending=1000,
        )
        ids.append(task.task_id)
    return ids


async def test_concurrent_workers_claim_each_task_once(engine: AsyncEngine) -> None:
    db = TaskDatabase(engine)
    ids = await _tasks(db, await _owner(engine), 12)

    async def worker(name: str) -> list[str]:
        got = []
        while (claimed := await db.claim_next(name, 60)) is not None:
            got.append(claimed.task_id)
        return got

    results = await asyncio.gather(*(worker(f"w{i}") for i in range(4)))
    claimed = [t for r in results for t in r]
    assert sorted(claimed) == sorted(ids)  # every task exactly once
    assert await db.claim_next("late", 60) is None
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(tasks.c.status, tasks.c.attempts, tasks.c.worker_id))).all()
    assert {(r[0], r[1]) for r in rows} == {("processing", 1)}


async def test_expired_lease_is_retried_then_failed(engine: AsyncEngine) -> None:
    db = TaskDatabase(engine)
    [task_id] = await _tasks(db, await _owner(engine), 1, max_attempts=2)
    first = await db.claim_next("dead-worker", lease_seconds=-1)  # a lease that has already run out
    assert first is not None and first.attempts == 1
    assert not await db.heartbeat(first, "other", 60)  # only the holder may extend it
    second = await db.claim_next("rescuer", lease_seconds=-1)
    assert second is not None and second.task_id == task_id and second.attempts == 2
    assert not await db.complete(
        first, "dead-worker", total_packets=1, health_score=1, warning=None, json_path="j", html_path="h"
    )  # the first worker lost the task: its late result is refused
    assert await db.claim_next("third", 60) is None  # attempts exhausted
    assert await db.fail_exhausted_leases() == 1
    task = await db.get_task(task_id, None)
    assert task is not None and task.status == "failed"
    assert "interrupted on each of its attempts" in (task.error_message or "")


async def test_writes_are_fenced_by_attempt_number(engine: AsyncEngine) -> None:
    """The same worker id retaking its own task: the older attempt's writes are all refused."""
    db = TaskDatabase(engine)
    [task_id] = await _tasks(db, await _owner(engine), 1)
    old = await db.claim_next("w", lease_seconds=-1)
    new = await db.claim_next("w", lease_seconds=60)
    assert old is not None and new is not None and (old.attempts, new.attempts) == (1, 2)
    assert not await db.heartbeat(old, "w", 60)
    assert not await db.record_progress(old, "w", phase="reading", percent=90, packets=5)
    assert not await db.fail(old, "w", "stale")
    assert await db.record_progress(new, "w", phase="reading", percent=10, packets=1)
    assert await db.complete(
        new, "w", total_packets=7, health_score=90, warning=None, json_path="r/2.json", html_path="r/2.html"
    )
    assert not await db.complete(
        old, "w", total_packets=1, health_score=1, warning=None, json_path="r/1.json", html_path="r/1.html"
    )
    assert not await db.record_progress(new, "w", phase="reading", percent=50, packets=3)  # finished
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(tasks).where(tasks.c.task_id == task_id))).mappings().one()
        snaps = (await conn.execute(sa.select(progress_snapshots.c.attempt))).scalars().all()
    assert (row["status"], row["completed_attempt"], row["total_packets"]) == ("completed", 2, 7)
    assert row["report_json_path"] == "r/2.json"
    assert snaps == [2]


async def test_pending_quota(engine: AsyncEngine) -> None:
    db = TaskDatabase(engine)
    owner = await _owner(engine)
    await _tasks(db, owner, 2)
    with pytest.raises(TooManyPendingTasks) as err:
        await db.create_task(
            task_id=str(uuid.uuid4()),
            owner_id=owner,
            filename="x",
            file_path="/x",
            file_size=1,
            sha256="0",
            ttl_hours=1,
            max_attempts=1,
            max_pending=2,
        )
    assert err.value.status_code == 429
    assert await db.count_active(owner) == 2
