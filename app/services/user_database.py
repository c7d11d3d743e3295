"""User accounts and the approval workflow, on the `users` table (PostgreSQL or SQLite).

Rules: administrators are approved when created, users start pending; only an active administrator
may approve; approving an already approved account is an error (Conflict), not a silent no-op, so
that two administrators acting at once learn that the other one did it.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.migrate import upgrade_to_head_async
from app.db.tables import users
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.models.user import User, UserCreate, UserRole, UserStatus
from app.security import (
    check_password_policy,
    hash_password,
    needs_rehash,
    normalize_email,
    normalize_username,
    verify_password,
)
from app.services.postgres_database import DatabasePool
from app.services.user_cache import UserCache, clear_on_user_writes

_USER_COLUMNS = [c for c in users.c if c.name != "hashed_password"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _to_user(row: RowMapping) -> User:
    return User.model_validate({k: v for k, v in row.items() if k != "hashed_password"})


class UserDatabase:
    """Account operations; every method opens its own short transaction on the pool's engine."""

    def __init__(self, pool: DatabasePool, auth_cache_s: float = 0.0) -> None:
        self.pool = pool
        self._reader_engine: AsyncEngine | None = None
        self.cache = UserCache(auth_cache_s)
        self._watched: AsyncEngine | None = None

    async def init_db(self) -> str | None:
        """Create or upgrade the schema (Alembic `upgrade head`); return the revision."""
        return await upgrade_to_head_async(self.pool.url)

    async def close(self) -> None:
        await self.pool.close()

    @property
    def _reader(self) -> AsyncEngine:
        # Single-statement reads need no transaction: AUTOCOMMIT spares the BEGIN/ROLLBACK round trips
        # (the user lookup runs on every authenticated request).
        engine = self.pool.engine  # a new one after pool.close()
        if self._reader_engine is None or self._reader_engine.sync_engine.pool is not engine.sync_engine.pool:
            self._reader_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._reader_engine

    async def _one(self, where: sa.ColumnElement[bool]) -> RowMapping | None:
        async with self._reader.connect() as conn:
            result = await conn.execute(sa.select(users).where(where))
            return result.mappings().first()

    async def get_user_by_id(self, user_id: uuid.UUID | str) -> User | None:
        """The account with this id (None when unknown or not a UUID)."""
        uid = _as_uuid(user_id)
        row = await self._one(users.c.id == uid) if uid else None
        return _to_user(row) if row else None

    async def get_session_user(self, user_id: str, *, cached: bool) -> User | None:
        """The account a token names, for authenticating a request; with `cached`, possibly read up to
        AUTH_CACHE_SECONDS ago (app.services.user_cache says how writes empty the cache)."""
        user = self.cache.get(user_id) if cached else None
        if user is not None:
            return user
        if self.cache.ttl > 0 and self._watched is not self.pool.engine:
            self._watched = self.pool.engine
            clear_on_user_writes(self._watched, self.cache)
        generation = self.cache.generation
        user = await self.get_user_by_id(user_id)
        if user is not None:
            self.cache.put(user_id, user, generation)
        return user

    async def get_user_by_username(self, username: str) -> User | None:
        """The account with this username (case-insensitive), or None."""
        row = await self._one(sa.func.lower(users.c.username) == username.strip().lower())
        return _to_user(row) if row else None

    async def _require(self, user_id: uuid.UUID | str) -> User:
        user = await self.get_user_by_id(user_id)
        if user is None:
            raise NotFound(f"user {user_id} not found")
        return user

    async def create_user(self, data: UserCreate, role: UserRole = UserRole.USER) -> User:
        """Create an account (approved at once for administrators, pending otherwise)."""
        username = normalize_username(data.username)
        email = normalize_email(data.email)
        check_password_policy(data.password, username=username)
        await self._check_free(username, email)
        hashed = await asyncio.to_thread(hash_password, data.password)
        now, new_id = _utcnow(), uuid.uuid4()
        values = {
            "id": new_id, "username": username, "email": email, "hashed_password": hashed,
            "role": UserRole(role).value, "is_active": True, "is_approved": role == UserRole.ADMIN,
            "approved_at": now if role == UserRole.ADMIN else None, "created_at": now, "updated_at": now,
        }  # fmt: skip
        try:
            async with self.pool.engine.begin() as conn:
                await conn.execute(users.insert().values(**values))
        except IntegrityError:
            await self._check_free(username, email)  # a concurrent insert won: say which field
            raise Conflict("this username or email is already registered") from None
        return await self._require(new_id)

    async def _check_free(self, username: str, email: str) -> None:
        if await self.get_user_by_username(username) is not None:
            raise Conflict(f"the username {username!r} is already taken")
        if await self._one(sa.func.lower(users.c.email) == email.lower()) is not None:
            raise Conflict(f"the email address {email!r} is already registered")

    async def _update(
        self, user_id: uuid.UUID | str, *conditions: sa.ColumnElement[bool], **values: Any
    ) -> int:
        uid = _as_uuid(user_id)
        if uid is None:
            return 0
        async with self.pool.engine.begin() as conn:
            stmt = users.update().where(users.c.id == uid, *conditions).values(updated_at=_utcnow(), **values)
            return int((await conn.execute(stmt)).rowcount or 0)

    async def approve_user(self, user_id: uuid.UUID | str, admin_id: uuid.UUID | str) -> User:
        """Approve a pending account, recording who approved it and when."""
        admin = await self.get_user_by_id(admin_id)
        if admin is None or admin.role != UserRole.ADMIN or not admin.is_active:
            raise PermissionDenied("only an active administrator can approve accounts")
        user = await self._require(user_id)
        if user.is_approved:
            raise Conflict(f"the account {user.username!r} is already approved")
        changed = await self._update(
            user.id,
            users.c.is_approved.is_(False),
            is_approved=True,
            approved_by=admin.id,
            approved_at=_utcnow(),
        )
        if not changed:
            raise Conflict(f"the account {user.username!r} is already approved")
        return await self._require(user.id)

    async def block_user(self, user_id: uuid.UUID | str) -> User:
        """Deactivate an account: it can no longer sign in."""
        if not await self._update(user_id, is_active=False):
            raise NotFound(f"user {user_id} not found")
        return await self._require(user_id)

    async def unblock_user(self, user_id: uuid.UUID | str) -> User:
        """Reactivate a blocked account."""
        if not await self._update(user_id, is_active=True):
            raise NotFound(f"user {user_id} not found")
        return await self._require(user_id)

    async def require_password_change(self, user_id: uuid.UUID | str) -> User:
        """Flag the account so its owner must change the (temporary) password at next sign-in."""
        if not await self._update(user_id, must_change_password=True):
            raise NotFound(f"user {user_id} not found")
        return await self._require(user_id)

    async def delete_user(self, user_id: uuid.UUID | str) -> None:
        """Delete an account; its tasks and their progress go with it (ON DELETE CASCADE)."""
        uid = _as_uuid(user_id)
        async with self.pool.engine.begin() as conn:
            deleted = (await conn.execute(users.delete().where(users.c.id == uid))).rowcount if uid else 0
        if not deleted:
            raise NotFound(f"user {user_id} not found")

    async def list_users(
        self,
        status: UserStatus | None = None,
        role: UserRole | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[User], int]:
        """Accounts matching the filters (oldest first) and how many match in total."""
        conditions: list[sa.ColumnElement[bool]] = []
        if status == "pending":
            conditions += [users.c.is_approved.is_(False), users.c.is_active.is_(True)]
        elif status == "approved":
            conditions += [users.c.is_approved.is_(True), users.c.is_active.is_(True)]
        elif status == "blocked":
            conditions.append(users.c.is_active.is_(False))
        elif status is not None:
            raise InvalidInput(f"unknown status filter {status!r} (pending, approved or blocked)")
        if role is not None:
            conditions.append(users.c.role == UserRole(role).value)
        query = sa.select(*_USER_COLUMNS).where(*conditions)
        async with self.pool.engine.connect() as conn:
            total = (
                await conn.execute(sa.select(sa.func.count()).select_from(query.subquery()))
            ).scalar_one()
            page = (
                query.order_by(users.c.created_at, users.c.username)
                .limit(max(limit, 0))
                .offset(max(offset, 0))
            )
            rows = (await conn.execute(page)).mappings().all()
        return [_to_user(r) for r in rows], int(total)

    async def authenticate(self, username: str, password: str) -> User | None:
        """The account when the password matches (whatever its status), else None; same cost either way."""
        row = await self._one(sa.func.lower(users.c.username) == username.strip().lower())
        hashed = row["hashed_password"] if row else None
        if not await asyncio.to_thread(verify_password, password, hashed) or row is None:
            if row is not None:
                await self._update(row["id"], failed_logins=users.c.failed_logins + 1)
            return None
        extra: dict[str, Any] = {}
        if needs_rehash(row["hashed_password"]):
            extra["hashed_password"] = await asyncio.to_thread(hash_password, password)
        await self._update(row["id"], last_login=_utcnow(), failed_logins=0, **extra)
        return await self.get_user_by_id(row["id"])

    async def change_password(
        self, user_id: uuid.UUID | str, current_password: str, new_password: str
    ) -> None:
        """Replace the password after checking the current one and the policy for the new one."""
        uid = _as_uuid(user_id)
        row = await self._one(users.c.id == uid) if uid else None
        if row is None or uid is None:
            raise NotFound(f"user {user_id} not found")
        if not await asyncio.to_thread(verify_password, current_password, row["hashed_password"]):
            raise InvalidInput("the current password is incorrect")
        if new_password == current_password:
            raise InvalidInput("the new password must differ from the current one")
        check_password_policy(new_password, username=row["username"])
        hashed = await asyncio.to_thread(hash_password, new_password)
        await self._update(uid, hashed_password=hashed, must_change_password=False)


def get_user_db_service(pool: DatabasePool | None = None, auth_cache_s: float = 0.0) -> UserDatabase:
    """The user service on `pool`, or on a new unpooled connection to DATABASE_URL (for scripts)."""
    return UserDatabase(pool if pool is not None else DatabasePool(pooled=False), auth_cache_s)
