"""Service health for probes and operators."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.deps import DbDep
from app.api.schemas import HealthOut
from app.db.copy import unfinished_copy
from app.db.outage import is_pool_busy
from app.services.storage import free_disk_bytes

router = APIRouter(tags=["system"])
MIN_FREE_DISK = 200 * 1024 * 1024
# A healthy probe (database and disk) is reused this long: under load the health endpoint costs no query.
# Problems are never reused, so a recovery shows at once; an outage shows after at most this long.
HEALTH_CACHE_S = 0.5


@dataclass
class _Probe:
    """What the database and DATA_DIR checks found."""

    state: str = "ok"  # ok | busy | down
    queue: int | None = None
    free: int | None = None
    problems: list[str] = field(default_factory=list)
    at: float = 0.0


async def _probe(db: DbDep) -> _Probe:
    probe = _Probe(at=time.monotonic())
    timer = asyncio.timeout(db.settings.DB_CONNECT_TIMEOUT_SECONDS + 2)
    try:
        async with timer:  # longer than a connection attempt: a refused or failed connect shows as down
            probe.queue = await db.tasks.queue_depth()
            if await unfinished_copy(db.pool.engine):
                probe.problems.append(
                    "the database holds an unfinished `pcap-analyzer db copy`: finish it (--resume)"
                )
    except Exception as exc:
        # Busy: every pooled connection in use, or the database answers slowly (locks, load): the
        # service is loaded but working. Down: no connection can be made.
        if is_pool_busy(exc) or timer.expired() or _pool_saturated(db):
            probe.state = "busy"
        else:
            probe.state = "down"
            probe.problems.append(f"database unreachable: {type(exc).__name__}")
    try:
        probe.free = free_disk_bytes(Path(db.settings.DATA_DIR))
        if probe.free < MIN_FREE_DISK:
            probe.problems.append(f"only {probe.free // (1024 * 1024)} MB free in DATA_DIR")
    except OSError as exc:
        probe.problems.append(f"DATA_DIR not usable: {exc.strerror}")
    return probe


@router.get("/api/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def health(request: Request, db: DbDep) -> JSONResponse:
    """Database ok/busy/down, worker alive, queue depth, free disk in DATA_DIR; 503 when degraded."""
    probe: _Probe | None = getattr(request.app.state, "health_probe", None)
    if probe is None or time.monotonic() - probe.at >= HEALTH_CACHE_S:
        probe = await _probe(db)
        request.app.state.health_probe = probe if probe.state == "ok" and not probe.problems else None
    problems = list(probe.problems)
    if db.worker is None:
        worker = "external"
    else:
        worker = "alive" if db.worker.alive() else "stalled"
        if worker == "stalled":
            problems.append("the embedded worker has not polled the queue for 30 s")
    body = HealthOut(
        status="degraded" if problems else "ok",
        database=probe.state != "down",
        database_state=probe.state,
        worker=worker,
        queue_depth=probe.queue,
        free_disk_bytes=probe.free,
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
