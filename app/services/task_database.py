"""The tasks table: uploads' analysis tasks, and the queue the workers claim them from (with a lease)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.notify import announce_task
from app.db.tables import progress_snapshots, tasks, users
from app.errors import AppError
from app.models.task import ANALYSIS_KIND, Task, TaskStatus

ACTIVE = (TaskStatus.PENDING.value, TaskStatus.PROCESSING.value)


class TooManyPendingTasks(AppError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"you already have {limit} analyses waiting or running; wait for one to finish", 429)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every timestamp we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: owners see their own tasks, admins see all."""

    user_id: str
    is_admin: bool = False


@dataclass(frozen=True, slots=True)
class ClaimedTask:
    """A task a worker holds the lease on."""

    task_id: str
    file_path: str
    attempts: int  # this attempt's number (1, 2, ...): the fencing token of every write it makes
    max_attempts: int
    filename: str = ""  # the name it was uploaded under, shown in its reports


def _to_task(row: Mapping[str, Any]) -> Task:
    owner = row["owner_id"]  # timestamps come back in UTC already (app.db.types.UTCDateTime)
    return Task.model_validate({**row, "owner_id": None if owner is None else str(owner)})


_TASK_COLUMNS = [
    tasks.c.task_id,
    tasks.c.filename,
    tasks.c.status,
    tasks.c.file_size,
    tasks.c.sha256,
    tasks.c.uploaded_at,
    tasks.c.started_at,
    tasks.c.completed_at,
    tasks.c.expires_at,
    tasks.c.total_packets,
    tasks.c.health_score,
    tasks.c.error_message,
    tasks.c.warning_message,
    tasks.c.attempts,
    tasks.c.owner_id,
    users.c.username.label("owner_username"),
]


# The reads clients poll, built once: building a statement costs more than running it.
_TASK_ROWS = sa.select(*_TASK_COLUMNS).select_from(tasks.outerjoin(users, users.c.id == tasks.c.owner_id))
_OWNED = tasks.c.owner_id == sa.bindparam("owner_id")
_ONE_TASK = _TASK_ROWS.where(tasks.c.task_id == sa.bindparam("task_id"))
_ONE_OWN_TASK = _ONE_TASK.where(_OWNED)
_TASK_PAGE = (
    _TASK_ROWS.order_by(tasks.c.uploaded_at.desc(), tasks.c.task_id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
    .offset(sa.bindparam("offset", type_=sa.Integer))
)
_OWN_TASK_PAGE = _TASK_PAGE.where(_OWNED)
_TASK_COUNT = sa.select(sa.func.count()).select_from(tasks)
_OWN_TASK_COUNT = _TASK_COUNT.where(_OWNED)


def _visibility(viewer: Viewer | None) -> dict[str, str]:
    """Bind values of the owner filter, empty when `viewer` sees every task."""
    return {} if viewer is None or viewer.is_admin else {"owner_id": viewer.user_id}


class TaskDatabase:
    """All SQL on the tasks table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # Single-statement reads need no transaction: AUTOCOMMIT saves the BEGIN/ROLLBACK round trips.
        self.reader = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def create_task(
        self,
        *,
        task_id: str,
        owner_id: str,
        filename: str,
        file_path: str,
        file_size: int,
        sha256: str,
        ttl_hours: float,
        max_attempts: int,
        max_pending: int,
    ) -> Task:
        """Insert a pending task, refusing (429) an owner who already has `max_pending` active ones.

        Check and insert are one atomic step: a conditional INSERT ... SELECT ... WHERE (active count) <
        limit. SQLite runs it under its single writer lock; on PostgreSQL the owner's users row is locked
        first (FOR UPDATE), so parallel uploads of one owner queue up instead of all passing the count.
        """
        now = utcnow()
        values: dict[str, Any] = {
            "task_id": task_id,
            "owner_id": owner_id,
            "filename": filename,
            "file_path": file_path,
            "file_size": file_size,
            "sha256": sha256,
            "status": TaskStatus.PENDING.value,
            "kind": ANALYSIS_KIND,
            "uploaded_at": now,
            "expires_at": now + timedelta(hours=ttl_hours),
            "attempts": 0,
            "max_attempts": max_attempts,
        }
        active = (
            sa.select(sa.func.count())
            .select_from(tasks)
            .where(tasks.c.owner_id == owner_id, tasks.c.status.in_(ACTIVE))
            .scalar_subquery()
        )
        row = sa.select(*(sa.literal(v, type_=tasks.c[k].type).label(k) for k, v in values.items()))
        insert = tasks.insert().from_select(list(values), row.where(active < max_pending))
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(sa.select(users.c.id).where(users.c.id == owner_id).with_for_update())
            inserted = (await conn.execute(insert)).rowcount
            if inserted == 1:
                # read back before the commit: once committed, a worker may claim it at once
                row = (await conn.execute(_ONE_TASK, {"task_id": task_id})).mappings().one()
                await announce_task(conn)
        if inserted != 1:
            raise TooManyPendingTasks(max_pending)
        return _to_task(row)

    async def count_active(self, owner_id: str) -> int:
        async with self.reader.connect() as conn:
            n = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(tasks)
                .where(tasks.c.owner_id == owner_id, tasks.c.status.in_(ACTIVE))
            )
        return int(n or 0)

    def _visible(self, query: sa.Select[Any], viewer: Viewer | None) -> sa.Select[Any]:
        params = _visibility(viewer)
        return query.where(tasks.c.owner_id == params["owner_id"]) if params else query

    async def get_task(self, task_id: str, viewer: Viewer | None) -> Task | None:
        """The task, or None when it does not exist or `viewer` may not see it."""
        params = _visibility(viewer)
        query = _ONE_OWN_TASK if params else _ONE_TASK
        async with self.reader.connect() as conn:
            row = (await conn.execute(query, {"task_id": task_id, **params})).mappings().first()
        return None if row is None else _to_task(row)

    async def get_paths(self, task_id: str, viewer: Viewer | None) -> dict[str, str | None] | None:
        """File paths of a visible task: upload, json and html report."""
        query = sa.select(tasks.c.file_path, tasks.c.report_json_path, tasks.c.report_html_path)
        query = self._visible(query.where(tasks.c.task_id == task_id), viewer)
        async with self.reader.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else dict(row)

    async def list_tasks(self, viewer: Viewer, *, limit: int, offset: int) -> tuple[list[Task], int]:
        """Visible tasks, newest first, and how many there are in all."""
        params = _visibility(viewer)
        page, count = (_OWN_TASK_PAGE, _OWN_TASK_COUNT) if params else (_TASK_PAGE, _TASK_COUNT)
        async with self.reader.connect() as conn:
            rows = (await conn.execute(page, {"limit": limit, "offset": offset, **params})).mappings().all()
            if len(rows) < limit and (rows or offset == 0):
                total = offset + len(rows)  # the last page: no count query needed
            else:
                total = await conn.scalar(count, params)
        return [_to_task(r) for r in rows], int(total or 0)

    async def delete_task(self, task_id: str, viewer: Viewer) -> list[str] | None:
        """Delete a visible task (its progress goes by cascade); the files it leaves to remove, or None."""
        async with self.engine.begin() as conn:
            query = self._visible(
                sa.select(tasks.c.file_path, tasks.c.report_json_path, tasks.c.report_html_path).where(
                    tasks.c.task_id == task_id
                ),
                viewer,
            )
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            await conn.execute(tasks.delete().where(tasks.c.task_id == task_id))
        return [p for p in row if p]

    async def files_of_owner(self, owner_id: str) -> list[str]:
        """Every file path the owner's tasks reference (to remove with the account)."""
        query = sa.select(tasks.c.file_path, tasks.c.report_json_path, tasks.c.report_html_path)
        async with self.reader.connect() as conn:
            rows = (await conn.execute(query.where(tasks.c.owner_id == owner_id))).all()
        return [p for row in rows for p in row if p]

    async def queue_depth(self) -> int:
        async with self.reader.connect() as conn:
            n = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(tasks)
                .where(tasks.c.status == TaskStatus.PENDING.value)
            )
        return int(n or 0)

    async def status_of(self, task_id: str) -> dict[str, Any] | None:
        """Status fields the progress stream needs (no visibility check: the caller did it)."""
        query = sa.select(
            tasks.c.status,
            tasks.c.started_at,
            tasks.c.total_packets,
            tasks.c.error_message,
            tasks.c.warning_message,
            tasks.c.completed_at,
        ).where(tasks.c.task_id == task_id)
        async with self.reader.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else dict(row)

    # --- the queue -------------------------------------------------------------------------------------

    async def claim_next(self, worker_id: str, lease_seconds: float) -> ClaimedTask | None:
        """Take the oldest claimable task: pending, or processing with an expired lease and attempts left.

        One UPDATE whose WHERE re-checks claimability: atomic on SQLite (one writer at a time); on PostgreSQL
        the candidate is picked with FOR UPDATE SKIP LOCKED so concurrent workers never wait on each other.
        """
        now = utcnow()
        claimable = sa.and_(
            tasks.c.attempts < tasks.c.max_attempts,
            sa.or_(
                tasks.c.status == TaskStatus.PENDING.value,
                sa.and_(tasks.c.status == TaskStatus.PROCESSING.value, tasks.c.lease_expires_at < now),
            ),
        )
        candidate = (
            sa.select(tasks.c.task_id)
            .where(claimable)
            .order_by(tasks.c.uploaded_at, tasks.c.task_id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            tasks.update()
            .where(tasks.c.task_id == candidate, claimable)
            .values(
                status=TaskStatus.PROCESSING.value,
                worker_id=worker_id,
                attempts=tasks.c.attempts + 1,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                heartbeat_at=now,
                started_at=now,
                error_message=None,
            )
            .returning(
                tasks.c.task_id, tasks.c.file_path, tasks.c.attempts, tasks.c.max_attempts, tasks.c.filename
            )
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(stmt)).first()
        return None if row is None else ClaimedTask(row[0], row[1], row[2], row[3], row[4] or "")

    def _held(self, task: ClaimedTask, worker_id: str) -> sa.ColumnElement[bool]:
        """The fence: this task, still processing, by this worker, in this very attempt."""
        return sa.and_(
            tasks.c.task_id == task.task_id,
            tasks.c.worker_id == worker_id,
            tasks.c.attempts == task.attempts,
            tasks.c.status == TaskStatus.PROCESSING.value,
        )

    async def _update_held(self, task: ClaimedTask, worker_id: str, **values: Any) -> bool:
        """Compare-and-set on (task id, attempt, worker): False when the task is gone, finished or retaken."""
        async with self.engine.begin() as conn:
            result = await conn.execute(tasks.update().where(self._held(task, worker_id)).values(**values))
        return result.rowcount == 1

    async def heartbeat(self, task: ClaimedTask, worker_id: str, lease_seconds: float) -> bool:
        """Extend the lease; False when the task is no longer ours."""
        now = utcnow()
        return await self._update_held(
            task, worker_id, heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds)
        )

    async def record_progress(
        self, task: ClaimedTask, worker_id: str, *, phase: str, percent: float, packets: int
    ) -> bool:
        """Append a progress snapshot if the attempt still holds the task (one conditional INSERT)."""
        values = {
            "task_id": task.task_id,
            "phase": phase,
            "progress_percent": round(min(max(percent, 0.0), 100.0), 2),
            "packets_processed": packets,
            "created_at": utcnow(),
            "attempt": task.attempts,
        }
        row = sa.select(
            *(sa.literal(v, type_=progress_snapshots.c[k].type).label(k) for k, v in values.items())
        )
        row = row.where(sa.exists(sa.select(tasks.c.task_id).where(self._held(task, worker_id))))
        async with self.engine.begin() as conn:
            result = await conn.execute(progress_snapshots.insert().from_select(list(values), row))
        return result.rowcount == 1

    async def complete(
        self,
        task: ClaimedTask,
        worker_id: str,
        *,
        total_packets: int | None,
        health_score: int | None,
        warning: str | None,
        json_path: str,
        html_path: str,
    ) -> bool:
        """Record a finished analysis and the attempt whose reports it names; False when no longer ours."""
        return await self._update_held(
            task,
            worker_id,
            status=TaskStatus.COMPLETED.value,
            completed_at=utcnow(),
            completed_attempt=task.attempts,
            total_packets=total_packets,
            health_score=health_score,
            warning_message=warning,
            report_json_path=json_path,
            report_html_path=html_path,
            lease_expires_at=None,
        )

    async def fail(self, task: ClaimedTask, worker_id: str, reason: str) -> bool:
        """Mark a task failed with its reason; False when the task is no longer ours."""
        return await self._update_held(
            task,
            worker_id,
            status=TaskStatus.FAILED.value,
            completed_at=utcnow(),
            error_message=reason[:2000],
            lease_expires_at=None,
        )

    async def fail_exhausted_leases(self) -> int:
        """Tasks whose worker died on their last attempt: failed, with the reason."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                tasks.update()
                .where(
                    tasks.c.status == TaskStatus.PROCESSING.value,
                    tasks.c.lease_expires_at < utcnow(),
                    tasks.c.attempts >= tasks.c.max_attempts,
                )
                .values(
                    status=TaskStatus.FAILED.value,
                    completed_at=utcnow(),
                    lease_expires_at=None,
                    error_message=(
                        "the analysis was interrupted on each of its attempts: the worker running it "
                        "stopped renewing its lease (crashed, was stopped or lost the database)"
                    ),
                )
            )
        return int(result.rowcount or 0)
