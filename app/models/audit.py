"""Audit log entries: who did what to whom, when."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.models.task import UtcDateTime


class AuditEntry(BaseModel):
    id: int
    actor_id: str | None
    action: str
    target_user_id: str | None
    details: dict[str, Any] | None = None
    ip: str | None = None
    created_at: UtcDateTime
