"""The FastAPI application (`app.main:app`): API routes, browser pages, the embedded worker and cleanup."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.account_limits import AccountLimiter
from app.api.admission import RequestAdmission
from app.api.deps import Services
from app.api.errors import install_error_handlers
from app.api.limits import RequestLimits
from app.api.ratelimit import LoginLimiter
from app.api.routes import account, admin, auth, health, metrics, progress, reports, tasks, uploads
from app.config import get_settings
from app.logging import RequestContext, configure_logging
from app.metrics import observe_request
from app.services.account_security import AccountSecurity
from app.services.audit import AuditLog
from app.services.cleanup import run_cleanup
from app.services.mail import Mailer
from app.services.postgres_database import DatabasePool
from app.services.progress import ProgressStore
from app.services.storage import ensure_dirs
from app.services.task_database import TaskDatabase
from app.services.user_database import get_user_db_service
from app.worker.loop import worker_from_settings

log = logging.getLogger("app")
WEB_DIR = Path(__file__).resolve().parent / "web"
# The default policy for every page; the HTML report route sets its own, stricter, nonce-based one.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


async def _cleanup_loop(services: Services, stop: asyncio.Event, interval_s: float) -> None:
    while not stop.is_set():
        try:
            result = await run_cleanup(services.pool.engine, Path(services.settings.DATA_DIR))
            if result.expired or result.deleted_rows or result.orphan_files:
                log.info("cleanup: %s", result)
        except Exception:
            log.exception("cleanup failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the database, start the embedded worker and the periodic cleanup; stop them on shutdown."""
    settings = get_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    ensure_dirs(Path(settings.DATA_DIR))
    pool = DatabasePool(settings.DATABASE_URL)
    await pool.connect()
    engine = pool.engine
    services = Services(
        pool=pool,
        settings=settings,
        users=get_user_db_service(pool, settings.AUTH_CACHE_SECONDS),
        tasks=TaskDatabase(engine),
        progress=ProgressStore(engine),
        audit=AuditLog(engine),
        limiter=LoginLimiter(
            free_failures=settings.LOGIN_RATE_LIMIT_ATTEMPTS,
            forget_after_s=settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS,
        ),
        mailer=Mailer(settings),
        accounts=AccountSecurity(engine),
        account_limiter=AccountLimiter(free_failures=settings.LOGIN_RATE_LIMIT_ATTEMPTS),
    )
    if not settings.mail_enabled:
        log.info("mail is off (SMTP_HOST unset or MAIL_ENABLED=false): no password reset by email")
    stop = asyncio.Event()
    background: list[asyncio.Task[None]] = []
    if settings.WORKER_ENABLED:
        services.worker = worker_from_settings(services.tasks, services.progress, settings)
        background.append(asyncio.create_task(services.worker.run(stop)))
    background.append(
        asyncio.create_task(_cleanup_loop(services, stop, settings.CLEANUP_INTERVAL_MINUTES * 60))
    )
    app.state.services = services
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*background, return_exceptions=True), timeout=10)
        if services.mailer:
            await services.mailer.drain()
        await services.users.settle()
        await pool.close()


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP response (streaming ones too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    @staticmethod
    def _hsts_value(scope: Scope) -> str | None:
        """The Strict-Transport-Security value when HSTS is on (HSTS_ENABLED, default: in production)."""
        services = getattr(getattr(scope.get("app"), "state", None), "services", None)
        settings = services.settings if services is not None else None
        if settings is None or not settings.HSTS_ENABLED:
            return None
        return f"max-age={settings.HSTS_MAX_AGE_SECONDS}; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(("/docs", "/redoc"))  # Swagger UI needs its inline script
        hsts = self._hsts_value(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                if not docs:
                    headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
                if hsts:
                    headers.setdefault("Strict-Transport-Security", hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _mount_static(app: FastAPI) -> None:
    if (WEB_DIR / "static").is_dir():
        app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")


def create_app() -> FastAPI:
    """Build the application (settings are read when it starts)."""
    # ReDoc is served by app.web.pages (its logo from here, not from a CDN).
    application = FastAPIOffline(title="pcap-analyzer", version="0.1.0", lifespan=lifespan, redoc_url=None)
    install_error_handlers(application)
    application.add_middleware(RequestLimits)
    application.add_middleware(SecurityHeaders)
    application.add_middleware(RequestAdmission)  # a request's time includes its wait for a turn
    application.add_middleware(RequestContext, on_response=observe_request)  # outermost: times everything
    # Routes are matched in this order: the ones clients poll first.
    for module in (tasks, health, progress, uploads, reports, auth, account, admin, metrics):
        application.include_router(module.router)
    application.include_router(reports.assets_router)  # /static/report/*, before the /static mount
    from app.web import pages

    application.include_router(pages.router)
    pages.install_html_not_found(application)
    _mount_static(application)
    return application


app = create_app()
