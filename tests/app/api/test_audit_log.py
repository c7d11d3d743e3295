"""The audit_log revision (upgrade → downgrade → upgrade on both databases) and the audit service on it."""

from __future__ import annotations

import asyncio
import uuid

import sqlalchemy as sa
from alembic.command import downgrade, upgrade

from app.db.engine import create_engine_for
from app.db.migrate import alembic_config, current_revision
from app.db.tables import users
from app.services.audit import AuditLog

AUDIT_REVISION = "3f1c2a7d9b10"


async def _tables(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def test_revision_upgrades_downgrades_and_upgrades_again(fresh_database_url: str) -> None:
    config = alembic_config(fresh_database_url)
    upgrade(config, AUDIT_REVISION)  # later revisions come on top of it
    assert current_revision(fresh_database_url) == AUDIT_REVISION
    assert "audit_log" in asyncio.run(_tables(fresh_database_url))
    downgrade(config, "-1")
    assert current_revision(fresh_database_url) == "eba0e1bcc7ec"
    assert "audit_log" not in asyncio.run(_tables(fresh_database_url))
    upgrade(config, "head")
    assert "audit_log" in asyncio.run(_tables(fresh_database_url))


def test_entries_survive_the_accounts_they_name(fresh_database_url: str) -> None:
    upgrade(alembic_config(fresh_database_url), "head")
    asyncio.run(_record_then_delete_accounts(fresh_database_url))


async def _record_then_delete_accounts(url: str) -> None:
    engine = create_engine_for(url)
    try:
        admin, target = uuid.uuid4(), uuid.uuid4()
        async with engine.begin() as conn:
            for uid, role in ((admin, "admin"), (target, "user")):
                await conn.execute(
                    users.insert().values(
                        id=uid,
                        username=uid.hex[:10],
                        email=f"{uid.hex[:10]}@example.org",
                        hashed_password="x",
                        role=role,
                        is_active=True,
                        is_approved=True,
                    )
                )
        log = AuditLog(engine)
        await log.record(
            str(admin), "user.block", target_user_id=str(target), details={"why": "spam"}, ip="10.0.0.1"
        )
        await log.record(str(admin), "user.delete", target_user_id=str(target))
        async with engine.begin() as conn:
            await conn.execute(users.delete().where(users.c.id == target))
            await conn.execute(users.delete().where(users.c.id == admin))
        entries = await log.entries()
        assert [(e.action, e.actor_id, e.target_user_id) for e in entries] == [
            ("user.delete", None, str(target)),  # the actor's id is cleared (ON DELETE SET NULL)
            ("user.block", None, str(target)),
        ]
        assert entries[1].details == {"why": "spam"} and entries[1].ip == "10.0.0.1"
        assert entries[0].created_at.tzinfo is not None
    finally:
        await engine.dispose()
