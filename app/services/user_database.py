"""User accounts and the approval workflow, on the `users` table (PostgreSQL or SQLite).

Rules: administrators are approved when created, users start pending; only an active administrator
may approve; approving an already approved account is an error (Conflict), not a silent no-op, so
that two administrators acting at once learn that the other one did it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.migrate import upgrade_to_head_async
from app.db.tables import password_history, password_reset_tokens, users
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from app.models.user import User, UserCreate, UserRole, UserStatus
from app.security import (
    check_password_policy,
    check_password_strength,
    hash_password,
    needs_rehash,
    normalize_email,
    normalize_username,
    verify_password,
)
from app.services.postgres_database import DatabasePool
from app.services.user_cache import UserCache, clear_on_user_writes

log = logging.getLogger("app.users")
PASSWORD_HISTORY = 5  # a new password must differ from the last 5
_SECRET_COLUMNS = ("hashed_password", "totp_secret", "totp_last_step")
_USER_COLUMNS = [c for c in users.c if c.name not in _SECRET_COLUMNS]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class LastAdmin(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "this is the last active administrator: make another administrator first "
            "(nobody could administer the service otherwise)"
        )


_ACTIVE_ADMIN = sa.and_(users.c.role == "admin", users.c.is_active.is_(True), users.c.is_approved.is_(True))


async def _not_last_admin(conn: AsyncConnection) -> sa.ColumnElement[bool]:
    """A condition on `users` rows: not the only active administrator.

    On PostgreSQL the active administrators are locked first, so two administrators blocking each other
    at once cannot both succeed; on SQLite the single UPDATE/DELETE with its subquery is atomic.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(users.c.id).where(_ACTIVE_ADMIN).order_by(users.c.id).with_for_update())
    admins = sa.select(sa.func.count()).select_from(users).where(_ACTIVE_ADMIN).scalar_subquery()
    return sa.not_(sa.and_(_ACTIVE_ADMIN, admins <= 1))


def _to_user(row: RowMapping) -> User:
    values = {k: v for k, v in row.items() if k not in _SECRET_COLUMNS}
    if "totp_secret" in row:
        values["totp_enabled"] = row["totp_secret"] is not None
    return User.model_validate(values)


class UserDatabase:
    """Account operations; every method opens its own short transaction on the pool's engine."""

    def __init__(self, pool: DatabasePool, auth_cache_s: float = 0.0) -> None:
        self.pool = pool
        self._pending: set[asyncio.Task[None]] = set()
        self._reader_engine: AsyncEngine | None = None
        self.cache = UserCache(auth_cache_s)
        self._watched: AsyncEngine | None = None

    async def init_db(self) -> str | None:
        """Create or upgrade the schema (Alembic `upgrade head`); return the revision."""
        return await upgrade_to_head_async(self.pool.url)

    async def close(self) -> None:
        await self.settle()
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
                await self._remember(conn, new_id, hashed, now)
        except IntegrityError:
            await self._check_free(username, email)  # a concurrent insert won: say which field
            raise Conflict("this username or email is already registered") from None
        return await self._require(new_id)

    async def email_registered(self, email: str) -> bool:
        """Whether an account uses this address (case-insensitive)."""
        return await self._one(sa.func.lower(users.c.email) == email.strip().lower()) is not None

    async def password_matches(self, user_id: uuid.UUID | str, password: str) -> bool:
        """Whether `password` is the account's current password."""
        uid = _as_uuid(user_id)
        row = await self._one(users.c.id == uid) if uid else None
        return await asyncio.to_thread(verify_password, password, row["hashed_password"] if row else None)

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
        """Deactivate an account: it can no longer sign in and its tokens stop working.

        The last active administrator cannot be blocked (LastAdmin).
        """
        uid = _as_uuid(user_id)
        async with self.pool.engine.begin() as conn:
            blocked = await conn.execute(
                users.update()
                .where(users.c.id == uid, await _not_last_admin(conn))
                .values(is_active=False, token_version=users.c.token_version + 1, updated_at=_utcnow())
            )
        if not blocked.rowcount:
            await self._require(user_id)
            raise LastAdmin()
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
        """Delete an account; its tasks and their progress go with it (ON DELETE CASCADE).

        The last active administrator cannot be deleted (LastAdmin).
        """
        uid = _as_uuid(user_id)
        if uid is None:
            raise NotFound(f"user {user_id} not found")
        async with self.pool.engine.begin() as conn:
            deleted = await conn.execute(users.delete().where(users.c.id == uid, await _not_last_admin(conn)))
        if not deleted.rowcount:
            await self._require(user_id)
            raise LastAdmin()

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
        totp_enabled = users.c.totp_secret.is_not(None).label("totp_enabled")
        query = sa.select(*_USER_COLUMNS, totp_enabled).where(*conditions)
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
        """The account when the password matches (whatever its status), else None.

        Known and unknown usernames cost the same: one SELECT and one Argon2 verification (against a dummy
        hash when there is no account); the failure counter is raised in the background, after the
        answer, so the answer time does not reveal which usernames exist.
        """
        name = username.strip().lower()
        if "\x00" in name:  # no stored name has one, and PostgreSQL refuses NUL in text parameters
            await asyncio.to_thread(verify_password, password, None)
            return None
        row = await self._one(sa.func.lower(users.c.username) == name)
        hashed = row["hashed_password"] if row else None
        if not await asyncio.to_thread(verify_password, password, hashed) or row is None:
            # After the answer: a write (and its disk flush) only for real accounts would show in the timing.
            task = asyncio.create_task(self._count_failure(name))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            return None
        extra: dict[str, Any] = {}
        if needs_rehash(row["hashed_password"]):
            extra["hashed_password"] = await asyncio.to_thread(hash_password, password)
        await self._update(row["id"], last_login=_utcnow(), failed_logins=0, **extra)
        return await self.get_user_by_id(row["id"])

    async def _count_failure(self, name: str) -> None:
        try:
            async with self.pool.engine.begin() as conn:
                await conn.execute(
                    users.update()
                    .where(sa.func.lower(users.c.username) == name)
                    .values(failed_logins=users.c.failed_logins + 1)
                )
        except Exception:  # a counter is not worth a failed request, nor a lost log line
            log.warning("could not count a failed sign-in", exc_info=True)

    async def settle(self) -> None:
        """Wait for the background writes started so far (failed sign-in counters)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def revoke_tokens(self, user_id: uuid.UUID | str) -> None:
        """Raise the account's token version: every access token issued before stops working."""
        await self._update(user_id, token_version=users.c.token_version + 1)

    async def change_password(
        self, user_id: uuid.UUID | str, current_password: str, new_password: str
    ) -> None:
        """Replace the password after checking the current one and the policy for the new one.

        Every access token of the account issued before is revoked.
        """
        uid = _as_uuid(user_id)
        row = await self._one(users.c.id == uid) if uid else None
        if row is None or uid is None:
            raise NotFound(f"user {user_id} not found")
        if not await asyncio.to_thread(verify_password, current_password, row["hashed_password"]):
            raise InvalidInput("the current password is incorrect")
        if new_password == current_password:
            raise InvalidInput("the new password must differ from the current one")
        await self.set_password(uid, new_password, username=row["username"], email=row["email"])

    async def set_password(
        self,
        user_id: uuid.UUID | str,
        new_password: str,
        *,
        username: str,
        email: str | None = None,
        temporary: bool = False,
        checked: bool = False,
    ) -> None:
        """Store a new password and revoke all tokens; the policy and history are checked unless the
        password is `temporary` (set by an administrator: to be changed at the next sign-in) or was
        `checked` already with check_new_password."""
        uid = _as_uuid(user_id)
        if uid is None:
            raise NotFound(f"user {user_id} not found")
        if not temporary and not checked:
            await self.check_new_password(uid, new_password, username=username, email=email)
        hashed = await asyncio.to_thread(hash_password, new_password)
        now = _utcnow()
        async with self.pool.engine.begin() as conn:
            changed = await conn.execute(
                users.update()
                .where(users.c.id == uid)
                .values(
                    hashed_password=hashed,
                    must_change_password=temporary,
                    token_version=users.c.token_version + 1,
                    updated_at=now,
                )
            )
            if not changed.rowcount:
                raise NotFound(f"user {user_id} not found")
            await self._remember(conn, uid, hashed, now)
            # The open reset links were meant for the old password.
            await conn.execute(
                password_reset_tokens.update()
                .where(password_reset_tokens.c.user_id == uid, password_reset_tokens.c.used_at.is_(None))
                .values(used_at=now)
            )

    async def check_new_password(
        self, user_id: uuid.UUID | str, new_password: str, *, username: str, email: str | None = None
    ) -> None:
        """Raise WeakPassword / InvalidInput unless the password passes the policy and is not recent."""
        uid = _as_uuid(user_id)
        if uid is None:
            raise NotFound(f"user {user_id} not found")
        check_password_strength(new_password, username=username, email=email)
        await self._check_history(uid, new_password)

    @staticmethod
    async def _remember(conn: AsyncConnection, uid: uuid.UUID, hashed: str, now: datetime) -> None:
        """Add a hash to the password history, keeping the last PASSWORD_HISTORY of them."""
        await conn.execute(
            password_history.insert().values(user_id=uid, hashed_password=hashed, created_at=now)
        )
        keep = (
            sa.select(password_history.c.id)
            .where(password_history.c.user_id == uid)
            .order_by(password_history.c.id.desc())
            .limit(PASSWORD_HISTORY)
        )
        await conn.execute(
            password_history.delete().where(
                password_history.c.user_id == uid, password_history.c.id.not_in(keep.scalar_subquery())
            )
        )

    async def _check_history(self, uid: uuid.UUID, new_password: str) -> None:
        """Refuse a password equal to the current one or to one of the last PASSWORD_HISTORY."""
        async with self.pool.engine.connect() as conn:
            current = (
                await conn.execute(sa.select(users.c.hashed_password).where(users.c.id == uid))
            ).scalar()
            old = (
                (
                    await conn.execute(
                        sa.select(password_history.c.hashed_password)
                        .where(password_history.c.user_id == uid)
                        .order_by(password_history.c.id.desc())
                        .limit(PASSWORD_HISTORY)
                    )
                )
                .scalars()
                .all()
            )
        for hashed in dict.fromkeys([h for h in (current, *old) if h]):
            if await asyncio.to_thread(verify_password, new_password, hashed):
                raise InvalidInput(
                    f"this password was used recently; choose one you have not used in your last "
                    f"{PASSWORD_HISTORY} passwords"
                )


def get_user_db_service(pool: DatabasePool | None = None, auth_cache_s: float = 0.0) -> UserDatabase:
    """The user service on `pool`, or on a new unpooled connection to DATABASE_URL (for scripts)."""
    return UserDatabase(pool if pool is not None else DatabasePool(pooled=False), auth_cache_s)
