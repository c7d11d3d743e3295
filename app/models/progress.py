"""Progress of one analysis, as stored in progress_snapshots and streamed over SSE."""

from __future__ import annotations

from pydantic import BaseModel

from app.models.task import TaskStatus, UtcDateTime


class ProgressSnapshot(BaseModel):
    """The latest known state of an analysis."""

    task_id: str
    status: TaskStatus
    phase: str | None = None
    progress_percent: float = 0.0
    packets_processed: int = 0
    total_packets: int | None = None
    eta_seconds: float | None = None
    message: str | None = None
    error_message: str | None = None
    warning_message: str | None = None
    updated_at: UtcDateTime | None = None
    attempt: int | None = None  # the attempt running (or that ran) the analysis, 1-based
    max_attempts: int | None = None
