"""Structured logging of the service: `LOG_LEVEL`, `LOG_FORMAT=json|text`, request/user/task context.

- `configure_logging()` installs one stderr handler on the root logger (uvicorn's loggers propagate to
  it); LOG_LEVEL applies to the service's own loggers (`app`, `pcap_analyzer`, uvicorn's server log),
  third-party libraries stay at WARNING (their DEBUG output would echo SQL parameters and form fields).
- `RequestContext` (ASGI middleware) gives every request an id (a valid incoming `X-Request-ID`, else
  a new one), echoes it in the response, and logs one line per request with route, status and time.
- `request_id`, `user_id` and `task_id` context variables are added to every record.
- Every message (and traceback) passes `redact()`: bearer tokens, JWTs and password/token/secret fields are
  masked, whatever logged them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)

OWN_LOGGERS = ("app", "pcap_analyzer", "uvicorn", "uvicorn.error")
REQUEST_LOGGER = "app.request"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_MASK = "[REDACTED]"
_SECRET_PATTERNS = (
    re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),  # a JWT anywhere
    # key=value, key: value, "key": "value" for password/token/secret-like keys
    re.compile(
        r"(?i)([\"']?[\w-]*(?:password|passwd|token|secret|authorization|cookie|csrf)[\w-]*[\"']?"
        r"\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s&,;)}\]]+)"
    ),
)
# Every pattern above needs one of these words: one quick search spares the substitutions on most lines.
_MAYBE_SECRET = re.compile(r"(?i)bearer|eyJ|passw|token|secret|authorization|cookie|csrf")


def redact(text: str) -> str:
    """`text` with tokens and password-like values masked."""
    if not _MAYBE_SECRET.search(text):
        return text
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)} {_MASK}", text)
    text = _SECRET_PATTERNS[1].sub(_MASK, text)
    return _SECRET_PATTERNS[2].sub(lambda m: f"{m.group(1)}{_MASK}", text)


class ContextFilter(logging.Filter):
    """Adds request_id, user_id and task_id (from the context variables) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", request_id_var), ("user_id", user_id_var), ("task_id", task_id_var)):
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, request_id, user_id, task_id."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
            "task_id": getattr(record, "task_id", None),
        }
        for key in ("method", "route", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines with the context in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"{key}={value}"
            for key in ("request_id", "user_id", "task_id")
            if (value := getattr(record, key, None)) is not None
        ]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return redact(super().format(record))


def configure_logging(level: str = "INFO", fmt: str = "text", stream: Any = None) -> None:
    """Route every log record through one handler with the chosen format (idempotent)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    numeric = logging.getLevelName(level.upper())
    for name in OWN_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(numeric if isinstance(numeric, int) else logging.INFO)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")  # RequestContext logs requests, with their context
    access.handlers.clear()
    access.propagate = False
    logging.getLogger(REQUEST_LOGGER).setLevel(numeric if isinstance(numeric, int) else logging.INFO)


def bind_user(scope_state: Any, user_id: str) -> None:
    """Record the authenticated user for the log lines of this request."""
    user_id_var.set(user_id)
    if isinstance(scope_state, dict):
        scope_state["user_id"] = user_id


def route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label set), e.g. /api/status/{task_id}."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("path", "").startswith("/static/"):
        return "/static"
    return "<unmatched>"


class RequestContext:
    """ASGI middleware: request id (echoed as X-Request-ID), context variables, one log line per request.

    `on_response(method, route, status, seconds)` is called for every finished request (the metrics hook).
    """

    def __init__(self, app: ASGIApp, on_response: Any = None) -> None:
        self.app = app
        self.on_response = on_response
        self.log = logging.getLogger(REQUEST_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Not reset afterwards: each request runs in its own task (context), and the 500 handler,
        # which runs outside this middleware, quotes the same id.
        request_id_var.set(rid)
        user_id_var.set(None)
        task_id_var.set(None)
        scope.setdefault("state", {})
        status = 500
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - began
            route = route_template(scope)
            task = (scope.get("path_params") or {}).get("task_id")
            user = scope["state"].get("user_id") if isinstance(scope.get("state"), dict) else None
            if self.on_response is not None:
                self.on_response(scope["method"], route, status, seconds)
            self.log.info(
                "%s %s %d %.1f ms",
                scope["method"],
                route,
                status,
                seconds * 1000,
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "user_id": user or user_id_var.get(),
                    "task_id": task if isinstance(task, str) else None,
                },
            )
