"""The short account cache of polling routes (AUTH_CACHE_SECONDS): reused, and emptied by every write."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.db.tables import users
from app.models.user import UserCreate, UserRole
from app.services.postgres_database import DatabasePool
from app.services.user_database import get_user_db_service


async def test_cached_row_is_reused_and_every_users_write_empties_the_cache(app_env: Any) -> None:
    pool = DatabasePool(app_env.DATABASE_URL)
    await pool.connect()
    other = DatabasePool(app_env.DATABASE_URL)  # another process's view of the same database
    try:
        db = get_user_db_service(pool, auth_cache_s=60)
        admin = await db.create_user(  # a member: the last administrator may not be blocked or deleted
            UserCreate(username="boss", email="boss@example.org", password="boss-long-password-1"),
            UserRole.USER,
        )
        uid = str(admin.id)
        assert (await db.get_session_user(uid, cached=True)).is_active  # type: ignore[union-attr]

        # A change this process does not make is not seen by cached reads (up to the TTL), only fresh ones.
        async with other.engine.begin() as conn:
            await conn.execute(users.update().where(users.c.id == admin.id).values(username="renamed"))
        assert (await db.get_session_user(uid, cached=True)).username == "boss"  # type: ignore[union-attr]
        assert (await db.get_session_user(uid, cached=False)).username == "renamed"  # type: ignore[union-attr]

        # Any write to users through this process's engine applies to the very next cached read.
        await db.block_user(uid)
        assert not (await db.get_session_user(uid, cached=True)).is_active  # type: ignore[union-attr]
        async with pool.engine.begin() as conn:
            await conn.execute(sa.text("UPDATE users SET is_active = TRUE WHERE id = :id"), {"id": uid})
        assert (await db.get_session_user(uid, cached=True)).is_active  # type: ignore[union-attr]
        await db.delete_user(uid)
        assert await db.get_session_user(uid, cached=True) is None
    finally:
        await other.close()
        await pool.close()


async def test_ttl_zero_reads_every_time(app_env: Any) -> None:
    pool = DatabasePool(app_env.DATABASE_URL)
    await pool.connect()
    other = DatabasePool(app_env.DATABASE_URL)
    try:
        db = get_user_db_service(pool, auth_cache_s=0)
        user = await db.create_user(
            UserCreate(username="plain", email="plain@example.org", password="plain-long-password-1")
        )
        assert (await db.get_session_user(str(user.id), cached=True)).is_approved is False  # type: ignore[union-attr]
        async with other.engine.begin() as conn:
            await conn.execute(users.update().where(users.c.id == user.id).values(is_approved=True))
        assert (await db.get_session_user(str(user.id), cached=True)).is_approved  # type: ignore[union-attr]
    finally:
        await other.close()
        await pool.close()
