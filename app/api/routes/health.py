"""Service health for probes and operators."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import DbDep
from app.api.schemas import HealthOut
from app.db.copy import unfinished_copy
from app.db.outage import is_pool_busy
from app.services.storage import free_disk_bytes

router = APIRouter(tags=["system"])
MIN_FREE_DISK = 200 * 1024 * 1024


@router.get("/api/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def health(db: DbDep) -> JSONResponse:
    """Database ok/busy/down, worker alive, queue depth, free disk in DATA_DIR; 503 when degraded."""
    problems: list[str] = []
    queue: int | None = None
    state = "ok"
    timer = asyncio.timeout(db.settings.DB_CONNECT_TIMEOUT_SECONDS + 2)
    try:
        async with timer:  # longer than a connection attempt: a refused or failed connect shows as down
            queue = await db.tasks.queue_depth()
            if await unfinished_copy(db.pool.engine):
                problems.append(
                    "the database holds an unfinished `pcap-analyzer db copy`: finish it (--resume)"
                )
    except Exception as exc:
        # Busy: every pooled connection in use, or the database answers slowly (locks, load): the
        # service is loaded but working. Down: no connection can be made.
        if is_pool_busy(exc) or timer.expired() or _pool_saturated(db):
            state = "busy"
        else:
            state = "down"
            problems.append(f"database unreachable: {type(exc).__name__}")
    if db.worker is None:
        worker = "external"
    else:
        worker = "alive" if db.worker.alive() else "stalled"
        if worker == "stalled":
            problems.append("the embedded worker has not polled the queue for 30 s")
    free: int | None = None
    try:
        free = free_disk_bytes(Path(db.settings.DATA_DIR))
        if free < MIN_FREE_DISK:
            problems.append(f"only {free // (1024 * 1024)} MB free in DATA_DIR")
    except OSError as exc:
        problems.append(f"DATA_DIR not usable: {exc.strerror}")
    body = HealthOut(
        status="degraded" if problems else "ok",
        database=state != "down",
        database_state=state,
        worker=worker,
        queue_depth=queue,
        free_disk_bytes=free,
        problems=problems,
    )
    return JSONResponse(body.model_dump(), status_code=503 if problems else 200)


def _pool_saturated(db: DbDep) -> bool:
    """Every connection the pool may open is checked out (PostgreSQL's QueuePool)."""
    pool = db.pool.engine.pool
    checked_out = getattr(pool, "checkedout", None)
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    if not callable(checked_out) or not callable(size):
        return False
    return bool(checked_out() >= size() + max(overflow, 0))
