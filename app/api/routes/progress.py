"""Live progress of an analysis as Server-Sent Events, read from the database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.api.deps import DbDep, SessionDep
from app.api.routes.tasks import TaskNotFound
from app.api.schemas import ErrorOut
from app.db.outage import is_unavailable
from app.models.task import TERMINAL_STATUSES
from app.services.progress import ProgressStore

router = APIRouter(tags=["analysis"])
POLL_S = 1.0
KEEPALIVE_S = 15.0


def _event(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


async def progress_events(store: ProgressStore, task_id: str, request: Request) -> AsyncIterator[bytes]:
    """`progress` events while the state changes, then one `complete` event with the final status."""
    last: tuple[object, ...] | None = None
    last_sent = time.monotonic()
    yield b"retry: 2000\n\n"
    while True:
        try:
            snap = await store.latest(task_id)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            return  # the database is away: end the stream; the browser reconnects with backoff
        if snap is None:  # deleted while we watched
            gone = {"task_id": task_id, "status": "deleted", "message": "analysis deleted"}
            yield _event("complete", json.dumps(gone))
            return
        if snap.status in TERMINAL_STATUSES:
            yield _event("complete", snap.model_dump_json())
            return
        key = (snap.status, snap.phase, snap.progress_percent, snap.packets_processed, snap.updated_at)
        if key != last:
            last, last_sent = key, time.monotonic()
            yield _event("progress", snap.model_dump_json())
        elif time.monotonic() - last_sent > KEEPALIVE_S:
            last_sent = time.monotonic()
            yield b": keep-alive\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_S)


@router.get(
    "/api/progress/{task_id}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        404: {"model": ErrorOut},
    },
)
async def progress(task_id: str, request: Request, db: DbDep, session: SessionDep) -> StreamingResponse:
    """Server-Sent Events: `progress` (phase, percent, packets, ETA), then `complete` with the status."""
    if await db.tasks.get_task(task_id, session.viewer) is None:
        raise TaskNotFound()
    return StreamingResponse(
        progress_events(db.progress, task_id, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
