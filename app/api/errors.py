"""The one place errors become HTTP answers.

AppError -> JSON 4xx; validation -> 422; the database away or saturated -> 503 with Retry-After; anything
else -> 500 with a request id. The 503/500 answers come from `ErrorBoundary`, an ASGI middleware that
*handles* the exception (Starlette's own 500 handler re-raises it, and uvicorn then drops the keep-alive
connection under the client's next request). It also sets `Cache-Control: no-store` on API answers.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db.outage import is_pool_busy, is_unavailable
from app.errors import AppError, DatabaseUnavailable
from app.logging import request_id_var

log = logging.getLogger("app.api")
RETRY_AFTER_DOWN_S = 5
RETRY_AFTER_BUSY_S = 1


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = getattr(exc, "headers", None)
    if isinstance(exc, DatabaseUnavailable):
        return database_unavailable()
    if exc.status_code == 422:  # keep the shape FastAPI documents for 422: a list of {loc, msg, type}
        detail = [{"loc": ["body"], "msg": exc.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=422, headers=headers)
    return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = jsonable_encoder(exc.errors(), exclude={"input", "ctx", "url"})
    return JSONResponse({"detail": errors}, status_code=422)


def database_unavailable(*, busy: bool = False) -> JSONResponse:
    """503 for a database that is down (retry in a few seconds) or saturated (retry in a second)."""
    wait = RETRY_AFTER_BUSY_S if busy else RETRY_AFTER_DOWN_S
    message = (
        "the service is busy (every database connection is in use); try again shortly"
        if busy
        else "the database is unreachable; try again shortly"
    )
    return JSONResponse(
        {"detail": message, "retry_after": wait}, status_code=503, headers={"Retry-After": str(wait)}
    )


def _unexpected(scope: Scope, exc: Exception) -> JSONResponse:
    if is_pool_busy(exc):
        return database_unavailable(busy=True)
    if is_unavailable(exc):
        log.warning("%s %s: database unavailable: %s", scope.get("method"), scope.get("path"), exc)
        return database_unavailable()
    request_id = request_id_var.get() or uuid.uuid4().hex[:16]
    log.error(
        "request %s %s failed (request id %s)",
        scope.get("method"),
        scope.get("path"),
        request_id,
        exc_info=exc,
    )
    return JSONResponse(
        {"detail": f"Internal server error (request id {request_id})", "request_id": request_id},
        status_code=500,
        headers={"X-Request-ID": request_id},
    )


class ErrorBoundary:
    """Turn any exception escaping the routes into a 503/500 answer on a connection that stays usable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        api = scope["path"].startswith("/api/")

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if api:
                    MutableHeaders(scope=message).setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # the answer is half sent: nothing sane to add; the server closes the connection
                raise
            await _unexpected(scope, exc)(scope, receive, tracking_send)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers and the error boundary on `app`."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(ErrorBoundary)
