"""The audit log: every administrator action, who did it, to whom, when and from where."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import audit_log
from app.models.audit import AuditEntry
from app.services.task_database import as_utc, utcnow


class AuditLog:
    """All SQL on audit_log."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(
        self,
        actor_id: str | None,
        action: str,
        *,
        target_user_id: str | None = None,
        details: dict[str, Any] | None = None,
        ip: str | None = None,
    ) -> None:
        """Append one entry, e.g. record(admin.id, "user.approve", target_user_id=uid)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                audit_log.insert().values(
                    actor_id=actor_id,
                    action=action,
                    target_user_id=target_user_id,
                    details=json.dumps(details, sort_keys=True) if details else None,
                    ip=ip,
                    created_at=utcnow(),
                )
            )

    async def entries(self, *, limit: int = 100, target_user_id: str | None = None) -> list[AuditEntry]:
        """Newest first."""
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if target_user_id is not None:
            query = query.where(audit_log.c.target_user_id == target_user_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            AuditEntry(
                id=r["id"],
                actor_id=_str(r["actor_id"]),
                action=r["action"],
                target_user_id=_str(r["target_user_id"]),
                details=json.loads(r["details"]) if r["details"] else None,
                ip=r["ip"],
                created_at=as_utc(r["created_at"]),
            )
            for r in rows
        ]


def _str(value: object) -> str | None:
    return None if value is None else str(value)
