"""Password-reset tokens and two-factor state of the accounts (all SQL on their tables).

Reset tokens: 256 random bits, mailed once; only their SHA-256 is stored; single use; they expire and
are invalidated when the password changes (UserDatabase.set_password marks them used).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tables import backup_codes, password_reset_tokens, users
from app.services import totp


def _utcnow() -> datetime:
    return datetime.now(UTC)


def reset_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ResetTarget:
    """The account a valid reset token belongs to."""

    user_id: uuid.UUID
    username: str
    email: str


class AccountSecurity:
    """Reset tokens, TOTP secrets (with replay refusal) and backup codes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # Password reset ---------------------------------------------------------------------------------

    async def create_reset_token(self, email: str, lifetime_minutes: int) -> tuple[ResetTarget, str] | None:
        """A new reset token for the active account with this address (None when there is none)."""
        async with self.engine.begin() as conn:
            row = (
                (
                    await conn.execute(
                        sa.select(users.c.id, users.c.username, users.c.email).where(
                            sa.func.lower(users.c.email) == email.strip().lower(),
                            users.c.is_active.is_(True),
                        )
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            token = secrets.token_urlsafe(32)  # 256 bits
            now = _utcnow()
            await conn.execute(
                password_reset_tokens.insert().values(
                    user_id=row["id"],
                    token_hash=reset_token_hash(token),
                    created_at=now,
                    expires_at=now + timedelta(minutes=lifetime_minutes),
                )
            )
        return ResetTarget(row["id"], row["username"], row["email"]), token

    async def reset_target(self, token: str) -> ResetTarget | None:
        """The account of an unused, unexpired token of an active account, else None."""
        if not token or len(token) > 200:
            return None
        query = (
            sa.select(users.c.id, users.c.username, users.c.email)
            .select_from(password_reset_tokens.join(users, users.c.id == password_reset_tokens.c.user_id))
            .where(
                password_reset_tokens.c.token_hash == reset_token_hash(token),
                password_reset_tokens.c.used_at.is_(None),
                password_reset_tokens.c.expires_at > _utcnow(),
                users.c.is_active.is_(True),
            )
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return ResetTarget(row["id"], row["username"], row["email"]) if row else None

    async def consume_reset_token(self, token: str) -> bool:
        """Mark the token used; True only for the one caller that used it while it was valid."""
        async with self.engine.begin() as conn:
            done = await conn.execute(
                password_reset_tokens.update()
                .where(
                    password_reset_tokens.c.token_hash == reset_token_hash(token),
                    password_reset_tokens.c.used_at.is_(None),
                    password_reset_tokens.c.expires_at > _utcnow(),
                )
                .values(used_at=_utcnow())
            )
        return bool(done.rowcount)

    # Two-factor sign-in -----------------------------------------------------------------------------

    async def totp_secret(self, user_id: uuid.UUID | str) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(users.c.totp_secret).where(users.c.id == uuid.UUID(str(user_id)))
                )
            ).scalar()

    async def enable_totp(self, user_id: uuid.UUID | str, secret: str, step: int, codes: list[str]) -> bool:
        """Turn 2FA on with `secret` (its code of `step` already checked) and these backup codes.

        False when 2FA was already on.
        """
        uid = uuid.UUID(str(user_id))
        now = _utcnow()
        async with self.engine.begin() as conn:
            done = await conn.execute(
                users.update()
                .where(users.c.id == uid, users.c.totp_secret.is_(None))
                .values(totp_secret=secret, totp_last_step=step, updated_at=now)
            )
            if not done.rowcount:
                return False
            await conn.execute(backup_codes.delete().where(backup_codes.c.user_id == uid))
            await conn.execute(
                backup_codes.insert(),
                [{"user_id": uid, "code_hash": totp.backup_code_hash(c), "created_at": now} for c in codes],
            )
        return True

    async def disable_totp(self, user_id: uuid.UUID | str) -> None:
        uid = uuid.UUID(str(user_id))
        async with self.engine.begin() as conn:
            await conn.execute(
                users.update()
                .where(users.c.id == uid)
                .values(totp_secret=None, totp_last_step=None, updated_at=_utcnow())
            )
            await conn.execute(backup_codes.delete().where(backup_codes.c.user_id == uid))

    async def check_second_factor(self, user_id: uuid.UUID | str, code: str) -> bool:
        """True when `code` is a current TOTP code not used before, or an unused backup code (which is
        then spent). A TOTP code is accepted once: its step must be later than the last accepted one."""
        uid = uuid.UUID(str(user_id))
        secret = await self.totp_secret(uid)
        if secret is None or not code:
            return False
        step = totp.matching_step(secret, code)
        now = _utcnow()
        async with self.engine.begin() as conn:
            if step is not None:
                done = await conn.execute(
                    users.update()
                    .where(
                        users.c.id == uid,
                        sa.or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step),
                    )
                    .values(totp_last_step=step)
                )
                return bool(done.rowcount)
            if not totp.looks_like_backup_code(code):
                return False
            done = await conn.execute(
                backup_codes.update()
                .where(
                    backup_codes.c.user_id == uid,
                    backup_codes.c.code_hash == totp.backup_code_hash(code),
                    backup_codes.c.used_at.is_(None),
                )
                .values(used_at=now)
            )
            return bool(done.rowcount)

    async def backup_codes_left(self, user_id: uuid.UUID | str) -> int:
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        sa.select(sa.func.count())
                        .select_from(backup_codes)
                        .where(
                            backup_codes.c.user_id == uuid.UUID(str(user_id)),
                            backup_codes.c.used_at.is_(None),
                        )
                    )
                ).scalar_one()
            )
