"""Progress snapshots: written by workers, read by the SSE stream (so any process or machine can serve it)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import progress_snapshots, tasks
from app.models.progress import ProgressSnapshot
from app.models.task import TaskStatus
from app.services.task_database import as_utc, utcnow


class ProgressStore:
    """All SQL on progress_snapshots."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.reader = engine.execution_options(isolation_level="AUTOCOMMIT")  # no BEGIN/ROLLBACK for reads

    async def record(
        self,
        task_id: str,
        *,
        phase: str,
        percent: float,
        packets: int,
        total_packets: int | None = None,
        message: str | None = None,
    ) -> None:
        """Append one snapshot."""
        async with self.engine.begin() as conn:
            await conn.execute(
                progress_snapshots.insert().values(
                    task_id=task_id,
                    phase=phase,
                    progress_percent=round(min(max(percent, 0.0), 100.0), 2),
                    packets_processed=packets,
                    total_packets=total_packets,
                    message=message,
                    created_at=utcnow(),
                )
            )

    async def latest(self, task_id: str) -> ProgressSnapshot | None:
        """The task's status with its newest snapshot and an ETA; None when the task is gone.

        The percentage never goes backwards: a retry (attempt 2 of 3) restarts the engine at 0 %, so the
        answer shows the best percentage any attempt reached, with a "retrying (attempt N of M)" message.
        The ETA comes from the current attempt's own recent rate and is None (unknown) when it stalls.
        """
        params = {"task_id": task_id}
        async with self.reader.connect() as conn:
            task = (await conn.execute(_TASK_INFO, params)).mappings().first()
            if task is None:
                return None
            started = task["status"] != TaskStatus.PENDING.value or (task["attempts"] or 0) > 0
            done = task["status"] == TaskStatus.COMPLETED.value
            rows = (await conn.execute(_RECENT, params)).mappings().all() if started and not done else []
        status = TaskStatus(task["status"])
        result = ProgressSnapshot(
            task_id=task_id,
            status=status,
            total_packets=task["total_packets"],
            error_message=task["error_message"],
            warning_message=task["warning_message"],
            attempt=task["attempts"] or None,
            max_attempts=task["max_attempts"],
        )
        if rows:
            row = rows[0]
            result.phase = row["phase"]
            result.progress_percent = max(
                float(row["progress_percent"] or 0.0), float(task["best_percent"] or 0)
            )
            result.packets_processed = int(row["packets_processed"] or 0)
            result.message = row["message"]
            result.updated_at = as_utc(row["created_at"])
            if status is TaskStatus.PROCESSING:
                current = [r for r in rows if r["attempt"] == task["attempts"]]
                result.eta_seconds = _eta(current)
        if status is TaskStatus.PROCESSING and (task["attempts"] or 0) > 1:
            result.message = f"retrying (attempt {task['attempts']} of {task['max_attempts']})"
        if status is TaskStatus.COMPLETED:
            result.progress_percent = 100.0
            result.phase = "done"
            if task["total_packets"] is not None:
                result.packets_processed = int(task["total_packets"])
        return result


_RATE_SNAPSHOTS = 30  # newest snapshots read per answer: ~30-60 s of one attempt, enough for a rate
_RATE_WINDOW_S = 20.0
_STALLED_S = 10.0
# Built once: every open progress stream runs them once a second.
_OF_TASK = progress_snapshots.c.task_id == sa.bindparam("task_id")
_TASK_INFO = sa.select(
    tasks.c.status,
    tasks.c.total_packets,
    tasks.c.error_message,
    tasks.c.warning_message,
    tasks.c.attempts,
    tasks.c.max_attempts,
    sa.select(sa.func.max(progress_snapshots.c.progress_percent))
    .where(_OF_TASK)
    .scalar_subquery()
    .label("best_percent"),
).where(tasks.c.task_id == sa.bindparam("task_id"))
_RECENT = (
    sa.select(
        progress_snapshots.c.phase,
        progress_snapshots.c.progress_percent,
        progress_snapshots.c.packets_processed,
        progress_snapshots.c.message,
        progress_snapshots.c.created_at,
        progress_snapshots.c.attempt,
    )
    .where(_OF_TASK)
    .order_by(progress_snapshots.c.id.desc())
    .limit(_RATE_SNAPSHOTS)
)


def _eta(rows: list[Any]) -> float | None:
    """Seconds left at the attempt's rate over its last ~20 s; None when unknown or stalled."""
    if len(rows) < 2:
        return None
    newest = rows[0]
    t1, p1 = as_utc(newest["created_at"]), float(newest["progress_percent"] or 0.0)
    if t1 is None or p1 <= 0.5 or (utcnow() - t1).total_seconds() > _STALLED_S:
        return None
    oldest = newest
    for row in rows[1:]:
        oldest = row
        t0 = as_utc(row["created_at"])
        if t0 is not None and (t1 - t0).total_seconds() >= _RATE_WINDOW_S:
            break
    t0, p0 = as_utc(oldest["created_at"]), float(oldest["progress_percent"] or 0.0)
    span = (t1 - t0).total_seconds() if t0 else 0.0
    if span <= 0 or p1 <= p0:
        return None  # no progress over the window: an honest "unknown", not a shrinking guess
    return round(max(0.0, (100.0 - p1) * span / (p1 - p0)), 1)
