"""Request dependencies as Annotated aliases: DbDep (the services), CurrentUser, AdminUser."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.api.account_limits import AccountLimiter
from app.api.ratelimit import LoginLimiter
from app.config import Settings
from app.errors import AppError
from app.logging import bind_user
from app.models.user import User
from app.services.account_security import AccountSecurity
from app.services.audit import AuditLog
from app.services.mail import Mailer
from app.services.postgres_database import DatabasePool
from app.services.progress import ProgressStore
from app.services.task_database import TaskDatabase, Viewer
from app.services.user_database import UserDatabase
from app.tokens import COOKIE_NAME, CSRF_HEADER, TokenClaims, decode_access_token, verify_csrf_token
from app.worker.loop import Worker

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths a user with a temporary password may still use (to see who they are and change it).
_TEMPORARY_PASSWORD_PATHS = frozenset({"/api/users/me", "/api/session", "/api/csrf/token"})
# Paths an administrator without 2FA may still use when REQUIRE_ADMIN_2FA is on (to turn it on).
_ADMIN_2FA_SETUP_PATHS = _TEMPORARY_PASSWORD_PATHS | {"/api/users/me/2fa/setup", "/api/users/me/2fa/enable"}
# Read-only routes that clients poll: their authentication may use the short account cache.
_POLLING_PATHS = ("/api/status/", "/api/history", "/api/progress/")

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/token", auto_error=False)


class NotAuthenticated(AppError):
    def __init__(self, message: str = "not authenticated") -> None:
        super().__init__(message, 401)
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(AppError):
    def __init__(self, message: str) -> None:
        super().__init__(message, 403)


@dataclass
class Services:
    """What a request may use: the pool, settings and the services built on them (one per process)."""

    pool: DatabasePool
    settings: Settings
    users: UserDatabase
    tasks: TaskDatabase
    progress: ProgressStore
    audit: AuditLog
    limiter: LoginLimiter
    worker: Worker | None = None  # the embedded worker, when enabled
    mailer: Mailer | None = None
    accounts: AccountSecurity | None = None  # reset tokens, 2FA
    # Throttles password-reset requests (per IP and per address) and 2FA codes (per account).
    account_limiter: LoginLimiter = field(default_factory=AccountLimiter)


async def get_services(request: Request) -> Services:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hand-off per request.
    services: Services = request.app.state.services
    return services


DbDep = Annotated[Services, Depends(get_services)]


@dataclass(frozen=True, slots=True)
class Session:
    """The authenticated caller: their user record and how they authenticated."""

    user: User
    claims: TokenClaims
    via_cookie: bool

    @property
    def viewer(self) -> Viewer:
        return Viewer(user_id=str(self.user.id), is_admin=is_admin(self.user))


def is_admin(user: User) -> bool:
    return str(getattr(user.role, "value", user.role)) == "admin"


async def get_session(
    request: Request, db: DbDep, bearer: Annotated[str | None, Depends(oauth2_scheme)]
) -> Session:
    """Authenticate by bearer header, else by the session cookie (with CSRF on state-changing methods)."""
    secret = db.settings.SECRET_KEY
    token, via_cookie = bearer, False
    if token is None:
        token, via_cookie = request.cookies.get(COOKIE_NAME), True
    claims = decode_access_token(token, secret) if token else None
    if claims is None:
        raise NotAuthenticated("not authenticated" if token is None else "invalid or expired token")
    # Polls of your own analyses may use an account row read up to AUTH_CACHE_SECONDS ago; everything
    # else (account, admin, uploads, any change) reads it afresh.
    polling = request.method in SAFE_METHODS and request.scope["path"].startswith(_POLLING_PATHS)
    user = await db.users.get_session_user(claims.user_id, cached=polling)
    if user is None or user.token_version != claims.version:  # revoked: signed out, password changed...
        raise NotAuthenticated("invalid or expired token")
    if not user.is_active:
        raise Forbidden("your account is blocked; contact an administrator")
    if not user.is_approved:
        raise Forbidden("your account is waiting for approval by an administrator")
    if via_cookie and request.method not in SAFE_METHODS:
        if not verify_csrf_token(request.headers.get(CSRF_HEADER), claims.session_id, secret):
            raise Forbidden("missing or invalid CSRF token (get one from GET /api/csrf/token)")
    if getattr(user, "must_change_password", False) and request.url.path not in _TEMPORARY_PASSWORD_PATHS:
        raise Forbidden("you must change your temporary password first (PUT /api/users/me)")
    if (
        db.settings.REQUIRE_ADMIN_2FA
        and is_admin(user)
        and not user.totp_enabled
        and request.url.path not in _ADMIN_2FA_SETUP_PATHS
    ):
        raise Forbidden("administrators must turn on two-factor sign-in first (profile page)")
    bind_user(request.scope.get("state"), str(user.id))
    return Session(user=user, claims=claims, via_cookie=via_cookie)


SessionDep = Annotated[Session, Depends(get_session)]


async def get_current_user(session: SessionDep) -> User:
    return session.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_admin_session(session: SessionDep) -> Session:
    if not is_admin(session.user):
        raise Forbidden("administrators only")
    return session


AdminSession = Annotated[Session, Depends(get_admin_session)]


async def get_admin_user(session: AdminSession) -> User:
    return session.user


AdminUser = Annotated[User, Depends(get_admin_user)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
