"""Progress snapshots: written by workers, read by the SSE stream (so any process or machine can serve it)."""

from __future__ import annotations

from datetime import datetime

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
        """The task's status with its newest snapshot and an ETA; None when the task is gone."""
        snap = (
            sa.select(progress_snapshots)
            .where(progress_snapshots.c.task_id == task_id)
            .order_by(progress_snapshots.c.id.desc())
            .limit(1)
        )
        info = sa.select(
            tasks.c.status,
            tasks.c.started_at,
            tasks.c.total_packets,
            tasks.c.error_message,
            tasks.c.warning_message,
        ).where(tasks.c.task_id == task_id)
        async with self.engine.connect() as conn:
            task = (await conn.execute(info)).mappings().first()
            if task is None:
                return None
            row = (await conn.execute(snap)).mappings().first()
        status = TaskStatus(task["status"])
        result = ProgressSnapshot(
            task_id=task_id,
            status=status,
            total_packets=task["total_packets"],
            error_message=task["error_message"],
            warning_message=task["warning_message"],
        )
        if row is not None:
            result.phase = row["phase"]
            result.progress_percent = float(row["progress_percent"] or 0.0)
            result.packets_processed = int(row["packets_processed"] or 0)
            result.message = row["message"]
            result.updated_at = as_utc(row["created_at"])
            if status is TaskStatus.PROCESSING:
                result.eta_seconds = _eta(as_utc(task["started_at"]), result.progress_percent)
        if status is TaskStatus.COMPLETED:
            result.progress_percent = 100.0
            result.phase = "done"
            if task["total_packets"] is not None:
                result.packets_processed = int(task["total_packets"])
        return result


def _eta(started_at: datetime | None, percent: float) -> float | None:
    if started_at is None or percent <= 0.5:
        return None
    elapsed = (utcnow() - started_at).total_seconds()
    return round(max(0.0, elapsed * (100.0 - percent) / percent), 1)
