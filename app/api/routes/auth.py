"""Sign-up, sign-in (bearer token or browser session cookie), CSRF tokens and the caller's own account."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
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
from app.errors import AppError
from app.models.user import UserCreate
from app.tokens import COOKIE_NAME, create_access_token, create_csrf_token, decode_access_token

router = APIRouter(tags=["auth"])
_AUTH_ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 429: {"model": ErrorOut}}


class TooManyAttempts(AppError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-in attempts; try again in {retry_after} s", 429)
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
    )


async def _sign_in(request: Request, db: DbDep, username: str, password: str) -> Any:
    """Check credentials with throttling; failures never reveal whether the username exists."""
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
    return user


@router.post(
    "/api/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={400: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)
async def register(body: RegisterIn, db: DbDep) -> UserOut:
    """Create an account; it stays pending until an administrator approves it."""
    user = await db.users.create_user(
        UserCreate(username=body.username, email=body.email, password=body.password)
    )
    return user_out(user)


@router.post("/api/token", response_model=TokenOut, responses=_AUTH_ERRORS)
async def token(
    request: Request, db: DbDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenOut:
    """OAuth2 password flow: a bearer token for API clients."""
    user = await _sign_in(request, db, form.username, form.password)
    jwt_token, claims = create_access_token(
        str(user.id), db.settings.SECRET_KEY, db.settings.ACCESS_TOKEN_EXPIRE_MINUTES
    )
    return TokenOut(
        access_token=jwt_token,
        expires_at=claims.expires_at,
        must_change_password=bool(getattr(user, "must_change_password", False)),
    )


@router.post("/api/session", response_model=SessionOut, responses=_AUTH_ERRORS)
async def open_session(
    request: Request, response: Response, db: DbDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> SessionOut:
    """Browser sign-in: sets the HttpOnly, SameSite=Strict session cookie and returns a CSRF token."""
    user = await _sign_in(request, db, form.username, form.password)
    s = db.settings
    jwt_token, claims = create_access_token(str(user.id), s.SECRET_KEY, s.ACCESS_TOKEN_EXPIRE_MINUTES)
    response.set_cookie(
        COOKIE_NAME,
        jwt_token,
        max_age=s.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
        httponly=True,
        samesite="strict",
        secure=bool(s.COOKIE_SECURE),
        path="/",
    )
    return SessionOut(
        username=user.username,
        expires_at=claims.expires_at,
        csrf_token=create_csrf_token(claims.session_id, s.SECRET_KEY),
        must_change_password=bool(getattr(user, "must_change_password", False)),
    )


@router.delete(
    "/api/session", response_model=MessageOut, responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}}
)
async def close_session(response: Response, session: SessionDep) -> MessageOut:
    """Sign out of the browser session (clears the cookie)."""
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
async def change_my_password(body: PasswordChangeIn, db: DbDep, session: SessionDep) -> UserOut:
    """Change your password (the current one is required)."""
    await db.users.change_password(str(session.user.id), body.current_password, body.new_password)
    user = await db.users.get_user_by_id(str(session.user.id))
    return user_out(user)
