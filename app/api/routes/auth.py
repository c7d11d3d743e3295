"""Sign-up, sign-in (bearer token or browser session cookie), CSRF tokens and the caller's own account."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.api.deps import DbDep, Forbidden, NotAuthenticated, SessionDep, client_ip
from app.api.schemas import (
    CsrfOut,
    ErrorOut,
    MessageOut,
    PasswordChangeIn,
    RegisterIn,
    SessionOut,
    TokenOut,
    UserOut,
)
from app.errors import AppError, Conflict
from app.models.user import UserCreate
from app.security import check_password_strength, hash_password, normalize_email
from app.tokens import COOKIE_NAME, TokenClaims, create_access_token, create_csrf_token, decode_access_token

router = APIRouter(tags=["auth"])
_AUTH_ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 429: {"model": ErrorOut}}


class TooManyAttempts(AppError):
    def __init__(self, retry_after: int, what: str = "failed sign-in attempts") -> None:
        super().__init__(f"too many {what}; try again in {retry_after} s", 429)
        self.headers = {"Retry-After": str(retry_after)}


def user_out(user: Any) -> UserOut:
    """The API view of a user record."""
    return UserOut(
        id=str(user.id),
        username=user.username,
        email=user.email,
        role=str(getattr(user.role, "value", user.role)),
        is_active=user.is_active,
        is_approved=user.is_approved,
        approved_by=str(user.approved_by) if getattr(user, "approved_by", None) else None,
        approved_at=getattr(user, "approved_at", None),
        created_at=getattr(user, "created_at", None),
        last_login=getattr(user, "last_login", None),
        must_change_password=bool(getattr(user, "must_change_password", False)),
        totp_enabled=bool(getattr(user, "totp_enabled", False)),
    )


class MfaRequired(AppError):
    """401 with X-MFA-Required: the password was right; a TOTP or backup code is needed as well."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 401)
        self.headers = {"X-MFA-Required": "true", "WWW-Authenticate": "Bearer"}


async def _sign_in(
    request: Request, db: DbDep, username: str, password: str, totp_code: str | None = None
) -> Any:
    """Check credentials with throttling; failures never reveal whether the username exists.

    With two-factor sign-in on, a current TOTP code (used once) or an unused backup code is required
    too; wrong codes are throttled per account, independently of the password throttle.
    """
    keys = (f"ip:{client_ip(request)}", f"user:{username.strip().lower()}")
    wait = db.limiter.retry_after(*keys)
    if wait:
        raise TooManyAttempts(wait)
    user = await db.users.authenticate(username, password)  # constant time whether the user exists or not
    if user is None:
        db.limiter.failed(*keys)
        raise NotAuthenticated("incorrect username or password")
    db.limiter.succeeded(*keys)
    if not user.is_active:
        raise Forbidden("your account is blocked; contact an administrator")
    if not user.is_approved:
        raise Forbidden("your account is waiting for approval by an administrator")
    if user.totp_enabled:
        await check_second_factor(db, user, totp_code, missing="two-factor code required")
    return user


async def check_second_factor(db: DbDep, user: Any, code: str | None, *, missing: str) -> None:
    """Accept a TOTP or backup code of `user` or raise (401 MfaRequired, 429 when throttled)."""
    assert db.accounts is not None
    key = f"mfa:{user.id}"
    wait = db.account_limiter.retry_after(key)
    if wait:
        raise TooManyAttempts(wait, what="two-factor codes")
    if not code or not code.strip():
        raise MfaRequired(missing)
    if not await db.accounts.check_second_factor(user.id, code.strip()[:64]):
        db.account_limiter.failed(key)
        raise MfaRequired("invalid or already used two-factor code")
    db.account_limiter.succeeded(key)


def notify(db: DbDep, template: str, to: str | list[str], **context: object) -> bool:
    """Queue an account email (no-op when mail is off)."""
    return bool(db.mailer and db.mailer.send(template, to, **context))


def _issue(db: DbDep, user: Any, session_id: str | None = None) -> tuple[str, TokenClaims]:
    s = db.settings
    return create_access_token(
        str(user.id),
        s.SECRET_KEY,
        s.ACCESS_TOKEN_EXPIRE_MINUTES,
        version=user.token_version,
        session_id=session_id,
    )


def _set_cookie(response: Response, db: DbDep, jwt_token: str) -> None:
    s = db.settings
    response.set_cookie(
        COOKIE_NAME,
        jwt_token,
        max_age=s.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
        httponly=True,
        samesite="strict",
        secure=bool(s.COOKIE_SECURE),
        path="/",
    )


@router.post(
    "/api/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={400: {"model": ErrorOut}},
)
async def register(body: RegisterIn, db: DbDep) -> UserOut:
    """Create an account; it stays pending until an administrator approves it.

    A taken username or address gets the same answer as a new account (so that anonymous callers
    cannot discover accounts); the explanation goes by email to the address given.
    """
    check_password_strength(body.password, username=body.username.strip(), email=body.email.strip())
    try:
        user = await db.users.create_user(
            UserCreate(username=body.username, email=body.email, password=body.password)
        )
    except Conflict:
        email = normalize_email(body.email)
        await asyncio.to_thread(hash_password, body.password)  # the cost of creating an account
        taken = await db.users.email_registered(email)
        notify(db, "registration_conflict", email, username=body.username.strip(), email_taken=taken)
        return UserOut(
            id=str(uuid.uuid4()),
            username=body.username.strip(),
            email=email,
            role="user",
            is_active=True,
            is_approved=False,
            created_at=datetime.now(UTC),
        )
    notify(db, "registration_received", user.email, username=user.username)
    admins, _ = await db.users.list_users(status="approved", role="admin", limit=50)
    if admins:
        notify(db, "new_registration", [a.email for a in admins], username=user.username, email=user.email)
    return user_out(user)


@router.post("/api/token", response_model=TokenOut, responses=_AUTH_ERRORS)
async def token(
    request: Request,
    db: DbDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    totp_code: Annotated[str | None, Form(max_length=64)] = None,
) -> TokenOut:
    """OAuth2 password flow: a bearer token for API clients.

    With two-factor sign-in on, send `totp_code` (a TOTP or a backup code) as well; without it the
    answer is 401 with the header `X-MFA-Required: true`.
    """
    user = await _sign_in(request, db, form.username, form.password, totp_code)
    jwt_token, claims = _issue(db, user)
    return TokenOut(
        access_token=jwt_token,
        expires_at=claims.expires_at,
        must_change_password=bool(getattr(user, "must_change_password", False)),
    )


@router.post("/api/session", response_model=SessionOut, responses=_AUTH_ERRORS)
async def open_session(
    request: Request,
    response: Response,
    db: DbDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    totp_code: Annotated[str | None, Form(max_length=64)] = None,
) -> SessionOut:
    """Browser sign-in: sets the HttpOnly, SameSite=Strict session cookie and returns a CSRF token."""
    user = await _sign_in(request, db, form.username, form.password, totp_code)
    jwt_token, claims = _issue(db, user)
    _set_cookie(response, db, jwt_token)
    return SessionOut(
        username=user.username,
        expires_at=claims.expires_at,
        csrf_token=create_csrf_token(claims.session_id, db.settings.SECRET_KEY),
        must_change_password=bool(getattr(user, "must_change_password", False)),
    )


@router.delete(
    "/api/session", response_model=MessageOut, responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
)
async def close_session(response: Response, db: DbDep, session: SessionDep) -> MessageOut:
    """Sign out: clears the cookie and revokes every access token of the account (all its sessions)."""
    await db.users.revoke_tokens(str(session.user.id))
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return MessageOut(detail="signed out")


@router.get("/api/csrf/token", response_model=CsrfOut)
async def csrf_token(request: Request, db: DbDep) -> CsrfOut:
    """A CSRF token for the current session cookie; send it as X-CSRF-Token on POST/PUT/DELETE."""
    secret = db.settings.SECRET_KEY
    cookie = request.cookies.get(COOKIE_NAME)
    claims = decode_access_token(cookie, secret) if cookie else None
    return CsrfOut(csrf_token=create_csrf_token(claims.session_id if claims else "anonymous", secret))


@router.get(
    "/api/users/me", response_model=UserOut, responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
)
async def me(session: SessionDep) -> UserOut:
    """Your account."""
    return user_out(session.user)


@router.put(
    "/api/users/me",
    response_model=UserOut,
    responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
)
async def change_my_password(
    body: PasswordChangeIn, response: Response, db: DbDep, session: SessionDep
) -> UserOut:
    """Change your password (the current one is required).

    Every token issued before is revoked; a browser session gets a new cookie (same CSRF token), a
    bearer client signs in again.
    """
    await db.users.change_password(str(session.user.id), body.current_password, body.new_password)
    user = await db.users.get_user_by_id(str(session.user.id))
    if session.via_cookie:
        jwt_token, _ = _issue(db, user, session_id=session.claims.session_id)
        _set_cookie(response, db, jwt_token)
    notify(db, "password_changed", user.email, username=user.username, how="")
    return user_out(user)
