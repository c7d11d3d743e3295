"""Retention: expire old analyses (files removed, row kept as "expired" for a while), drop orphan files."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import progress_snapshots, tasks
from app.models.task import TaskStatus
from app.services.storage import remove_files, remove_task_reports, reports_dir, uploads_dir
from app.services.task_database import utcnow

EXPIRED_ROW_KEEP = timedelta(days=7)  # how long history still shows an "expired" analysis
ORPHAN_GRACE_S = 3600.0  # files younger than this may belong to an upload or analysis in flight
_ACTIVE = (TaskStatus.PENDING.value, TaskStatus.PROCESSING.value)


@dataclass(frozen=True, slots=True)
class CleanupResult:
    expired: int
    deleted_rows: int
    orphan_files: int


async def run_cleanup(engine: AsyncEngine, data_dir: Path) -> CleanupResult:
    """Expire tasks past `expires_at`, delete expired rows after EXPIRED_ROW_KEEP, remove orphan files."""
    now = utcnow()
    due = sa.and_(tasks.c.expires_at < now, tasks.c.status.notin_((*_ACTIVE, TaskStatus.EXPIRED.value)))
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    tasks.c.task_id, tasks.c.file_path, tasks.c.report_json_path, tasks.c.report_html_path
                ).where(due)
            )
        ).all()
        ids = [r[0] for r in rows]
        if ids:
            await conn.execute(progress_snapshots.delete().where(progress_snapshots.c.task_id.in_(ids)))
            await conn.execute(
                tasks.update()
                .where(tasks.c.task_id.in_(ids))
                .values(
                    status=TaskStatus.EXPIRED.value,
                    file_path=None,
                    report_json_path=None,
                    report_html_path=None,
                )
            )
        deleted = await conn.execute(
            tasks.delete().where(
                tasks.c.status == TaskStatus.EXPIRED.value, tasks.c.expires_at < now - EXPIRED_ROW_KEEP
            )
        )
        live = {
            r[0] for r in (await conn.execute(sa.select(tasks.c.task_id).where(tasks.c.status != "expired")))
        }
    for row in rows:
        remove_files(*row[1:])
        remove_task_reports(data_dir, row[0])
    orphans = _remove_orphans(data_dir, live)
    return CleanupResult(expired=len(ids), deleted_rows=int(deleted.rowcount or 0), orphan_files=orphans)


def _remove_orphans(data_dir: Path, live_task_ids: set[str]) -> int:
    """Files under uploads/ and reports/ whose task id has no live task (old enough not to be in flight)."""
    removed = 0
    cutoff = time.time() - ORPHAN_GRACE_S
    for folder in (uploads_dir(data_dir), reports_dir(data_dir)):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_dir() and folder == reports_dir(data_dir):  # reports/<task-id>/<attempt>.*
                if path.name not in live_task_ids and path.stat().st_mtime <= cutoff:
                    removed += sum(1 for f in path.iterdir() if f.is_file())
                    shutil.rmtree(path, ignore_errors=True)
                continue
            if not path.is_file():
                continue
            task_id = path.name.split(".", 1)[0]
            in_flight = path.name.startswith(".incoming-") or path.name.endswith(".tmp")
            if (task_id in live_task_ids and not in_flight) or path.stat().st_mtime > cutoff:
                continue
            remove_files(path)
            removed += 1
    return removed
