"""Analysis tasks at the API boundary."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# SQLite hands back naive datetimes; every timestamp we store is UTC, and the API always says so.
UtcDateTime = Annotated[datetime, AfterValidator(_utc)]


class TaskStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


TERMINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.EXPIRED})
ANALYSIS_KIND = "analysis.run"


class Task(BaseModel):
    """One uploaded capture and the state of its analysis."""

    model_config = ConfigDict(from_attributes=True)

    task_id: str
    filename: str
    status: TaskStatus
    file_size: int | None = None
    sha256: str | None = None
    uploaded_at: UtcDateTime | None = None
    started_at: UtcDateTime | None = None
    completed_at: UtcDateTime | None = None
    expires_at: UtcDateTime | None = None
    total_packets: int | None = None
    health_score: float | None = None
    error_message: str | None = None
    warning_message: str | None = None
    attempts: int = 0
    owner_id: str | None = None
    owner_username: str | None = None


class UploadAccepted(BaseModel):
    """Answer to an upload: the task to follow."""

    task_id: str
    status: TaskStatus
    filename: str
    file_size: int
    sha256: str


class TaskList(BaseModel):
    """A page of tasks, newest first."""

    tasks: list[Task]
    total: int
