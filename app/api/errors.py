"""The one place errors become HTTP answers: AppError → JSON 4xx; validation → 422; anything else → 500."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import AppError
from app.logging import request_id_var

log = logging.getLogger("app.api")


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = getattr(exc, "headers", None)
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


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request_id_var.get() or uuid.uuid4().hex[:16]
    log.error(
        "request %s %s failed (request id %s)", request.method, request.url.path, request_id, exc_info=exc
    )
    return JSONResponse(
        {"detail": f"Internal server error (request id {request_id})", "request_id": request_id},
        status_code=500,
        headers={"X-Request-ID": request_id},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
