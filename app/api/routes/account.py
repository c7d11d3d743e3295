"""Self-service password reset by email and two-factor sign-in (TOTP) of the caller's own account."""

from __future__ import annotations

import asyncio
import base64
import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from app.api.deps import DbDep, SessionDep, client_ip
from app.api.routes.auth import TooManyAttempts, check_second_factor, notify
from app.api.schemas import ErrorOut, MessageOut
from app.errors import AppError, Conflict, InvalidInput
from app.security import normalize_email
from app.services import totp

log = logging.getLogger("app.accounts")
router = APIRouter(tags=["account"])
_ERRORS = {code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 429)}
FORGOT_ANSWER = (
    "if an account uses this address, a link to choose a new password is on its way; it works once, "
    "for a limited time"
)
_background: set[asyncio.Task[None]] = set()


class MailUnavailable(AppError):
    """404: the feature does not exist on this server (a configuration, not an outage to retry)."""

    def __init__(self) -> None:
        super().__init__(
            "password reset by email is not available on this server (mail is not configured); "
            "ask an administrator to reset your password",
            404,
        )


class ForgotPasswordIn(BaseModel):
    email: str = Field(min_length=3, max_length=320)


class ResetTokenIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class ValidOut(BaseModel):
    valid: bool


class ResetPasswordIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=1024)


class TotpSetupOut(BaseModel):
    secret: str
    otpauth_uri: str
    qr_code: str  # data:image/svg+xml;base64,...


class TotpEnableIn(BaseModel):
    secret: str = Field(min_length=16, max_length=64)
    code: str = Field(min_length=6, max_length=64)


class BackupCodesOut(BaseModel):
    backup_codes: list[str]
    detail: str = "two-factor sign-in is on; keep these backup codes: each works once and they are shown once"


class TotpDisableIn(BaseModel):
    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(min_length=6, max_length=64)


# Password reset ---------------------------------------------------------------------------------------


async def _mail_reset_link(db: DbDep, email: str) -> None:
    """Runs after the answer was sent, so known and unknown addresses take the same time to answer."""
    try:
        assert db.accounts is not None
        s = db.settings
        found = await db.accounts.create_reset_token(email, s.PASSWORD_RESET_TOKEN_MINUTES)
        if found is None:
            return
        target, token = found
        link = f"{s.APP_BASE_URL}/reset-password?token={token}"
        notify(
            db, "password_reset", target.email, username=target.username, link=link,
            minutes=s.PASSWORD_RESET_TOKEN_MINUTES,
        )  # fmt: skip
    except Exception:
        log.exception("password reset request failed")


@router.post("/api/auth/forgot-password", response_model=MessageOut, responses=_ERRORS)
async def forgot_password(body: ForgotPasswordIn, request: Request, db: DbDep) -> MessageOut:
    """Mail a single-use link to choose a new password; the same answer whether or not the address
    belongs to an account. Limited per client address and per email address."""
    if not (db.mailer and db.mailer.enabled):
        raise MailUnavailable()
    email = normalize_email(body.email)
    keys = (f"reset-ip:{client_ip(request)}", f"reset-mail:{email}")
    wait = db.account_limiter.retry_after(*keys)
    if wait:
        raise TooManyAttempts(wait, what="password reset requests")
    db.account_limiter.failed(*keys)  # every request counts, whatever its outcome
    task = asyncio.create_task(_mail_reset_link(db, email))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return MessageOut(detail=FORGOT_ANSWER)


@router.post("/api/auth/validate-reset-token", response_model=ValidOut, responses=_ERRORS)
async def validate_reset_token(body: ResetTokenIn, db: DbDep) -> ValidOut:
    """Whether a reset link is still usable (unused, not expired, password unchanged since)."""
    assert db.accounts is not None
    return ValidOut(valid=await db.accounts.reset_target(body.token) is not None)


@router.post("/api/auth/reset-password", response_model=MessageOut, responses=_ERRORS)
async def reset_password(body: ResetPasswordIn, request: Request, db: DbDep) -> MessageOut:
    """Choose a new password with a mailed token: the token is spent, every session is signed out."""
    assert db.accounts is not None
    target = await db.accounts.reset_target(body.token)
    if target is None:
        raise InvalidInput("this reset link is invalid, used or expired; ask for a new one")
    # Policy first, so that a refused password leaves the link usable for another try.
    await db.users.check_new_password(
        target.user_id, body.new_password, username=target.username, email=target.email
    )
    if not await db.accounts.consume_reset_token(body.token):
        raise InvalidInput("this reset link is invalid, used or expired; ask for a new one")
    await db.users.set_password(
        target.user_id, body.new_password, username=target.username, email=target.email, checked=True
    )
    await db.audit.record(
        str(target.user_id), "password.reset", target_user_id=str(target.user_id), ip=client_ip(request)
    )
    notify(db, "password_changed", target.email, username=target.username, how="with a reset link")
    return MessageOut(detail="your password was changed; sign in with it")


# Two-factor sign-in -----------------------------------------------------------------------------------


@router.post("/api/users/me/2fa/setup", response_model=TotpSetupOut, responses=_ERRORS)
async def totp_setup(session: SessionDep) -> TotpSetupOut:
    """A new secret, its otpauth:// URI and QR code (SVG data URI); nothing changes until /enable."""
    if session.user.totp_enabled:
        raise Conflict("two-factor sign-in is already on; turn it off first to set up a new device")
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, session.user.username)
    qr = base64.b64encode(totp.qr_svg(uri).encode()).decode()
    return TotpSetupOut(secret=secret, otpauth_uri=uri, qr_code=f"data:image/svg+xml;base64,{qr}")


@router.post("/api/users/me/2fa/enable", response_model=BackupCodesOut, responses=_ERRORS)
async def totp_enable(body: TotpEnableIn, request: Request, db: DbDep, session: SessionDep) -> BackupCodesOut:
    """Turn two-factor sign-in on with the secret of /setup and a current code from the device."""
    assert db.accounts is not None
    user = session.user
    secret = body.secret.strip().replace(" ", "").upper()
    if not totp.valid_secret(secret):
        raise InvalidInput("not a secret from /api/users/me/2fa/setup (32 base32 characters)")
    key = f"mfa:{user.id}"
    wait = db.account_limiter.retry_after(key)
    if wait:
        raise TooManyAttempts(wait, what="two-factor codes")
    step = totp.matching_step(secret, body.code)
    if step is None:
        db.account_limiter.failed(key)
        raise InvalidInput("the code does not match; check that the device's clock is right and try again")
    codes = totp.new_backup_codes()
    if not await db.accounts.enable_totp(user.id, secret, step, codes):
        raise Conflict("two-factor sign-in is already on")
    db.account_limiter.succeeded(key)
    await db.audit.record(str(user.id), "2fa.enable", target_user_id=str(user.id), ip=client_ip(request))
    notify(db, "2fa_enabled", user.email, username=user.username)
    return BackupCodesOut(backup_codes=codes)


@router.post("/api/users/me/2fa/disable", response_model=MessageOut, responses=_ERRORS)
async def totp_disable(body: TotpDisableIn, request: Request, db: DbDep, session: SessionDep) -> MessageOut:
    """Turn two-factor sign-in off: needs the password and a current TOTP code or a backup code."""
    assert db.accounts is not None
    user = session.user
    if not user.totp_enabled:
        raise Conflict("two-factor sign-in is not on")
    if db.settings.REQUIRE_ADMIN_2FA and user.is_admin:
        raise InvalidInput("administrators must keep two-factor sign-in on (REQUIRE_ADMIN_2FA)")
    if not await db.users.password_matches(user.id, body.password):
        raise InvalidInput("the password is incorrect")
    await check_second_factor(db, user, body.code, missing="a two-factor code is required")
    await db.accounts.disable_totp(user.id)
    await db.audit.record(str(user.id), "2fa.disable", target_user_id=str(user.id), ip=client_ip(request))
    notify(db, "2fa_disabled", user.email, username=user.username)
    return MessageOut(detail="two-factor sign-in is off")
