"""Uploading a capture: streamed to disk with limits, checked, then queued as a pending task."""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import APIRouter, Request, status

from app.api.deps import DbDep, SessionDep
from app.api.multipart import FilePart, stream_file_part
from app.api.schemas import ErrorOut
from app.metrics import observe_upload
from app.models.task import UploadAccepted
from app.services.storage import (
    MB,
    UploadTooLarge,
    commit_upload,
    remove_files,
    sanitize_filename,
    store_upload,
)
from app.services.task_database import TooManyPendingTasks

router = APIRouter(tags=["analysis"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}
_ERRORS = {code: {"model": ErrorOut} for code in (400, 413, 415, 429)}


@router.post(
    "/api/upload",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadAccepted,
    responses=_ERRORS,
    openapi_extra=_UPLOAD_BODY,
)
async def upload(request: Request, db: DbDep, session: SessionDep) -> UploadAccepted:
    """Upload a pcap/pcapng capture (optionally gzip/zstd-compressed) in the multipart field `file`."""
    s = db.settings
    max_bytes = int(s.MAX_UPLOAD_MB * MB)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 64 * 1024:
        raise UploadTooLarge(f"the upload exceeds the limit of {s.MAX_UPLOAD_MB} MB")
    owner_id = str(session.user.id)
    if await db.tasks.count_active(owner_id) >= s.MAX_PENDING_TASKS_PER_USER:
        raise TooManyPendingTasks(s.MAX_PENDING_TASKS_PER_USER)
    data_dir = Path(s.DATA_DIR)
    part = FilePart("file")
    stored = await store_upload(
        stream_file_part(request, part),
        data_dir,
        max_bytes=max_bytes,
        max_decompressed=int(s.MAX_DECOMPRESSED_MB * MB),
        max_ratio=s.MAX_DECOMPRESSION_RATIO,
    )
    task_id = str(uuid.uuid4())
    final = commit_upload(stored, data_dir, task_id)
    try:
        task = await db.tasks.create_task(
            task_id=task_id,
            owner_id=owner_id,
            filename=sanitize_filename(part.filename),
            file_path=str(final),
            file_size=stored.size,
            sha256=stored.sha256,
            ttl_hours=s.REPORT_TTL_HOURS,
            max_attempts=s.TASK_MAX_ATTEMPTS,
            max_pending=s.MAX_PENDING_TASKS_PER_USER,
        )
    except BaseException:
        remove_files(final)
        raise
    observe_upload(stored.size)
    return UploadAccepted(
        task_id=task.task_id,
        status=task.status,
        filename=task.filename,
        file_size=stored.size,
        sha256=stored.sha256,
    )
