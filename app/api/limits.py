"""Request size limits before any route runs: header bytes (431) and body bytes per route (413).

The upload route streams up to MAX_UPLOAD_MB (it enforces the exact limit itself); every other route
takes at most MAX_REQUEST_BODY_KB, checked against Content-Length up front and counted while the body
streams in, so a huge body never reaches memory.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import AppError

KB = 1024
UPLOAD_PATH = "/api/upload"
UPLOAD_SLACK = 1024 * KB  # multipart framing around the file


class BodyTooLarge(AppError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body exceeds the limit of {_size(limit)} for this route", 413)


def _size(n: int) -> str:
    return f"{n // (1024 * KB)} MB" if n >= 1024 * KB else f"{n // KB} KB"


class RequestLimits:
    """ASGI middleware enforcing the header and per-route body limits of the settings."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._limits: tuple[int, int, int] | None = None

    def limits(self) -> tuple[int, int, int]:
        """(header bytes, body bytes, upload body bytes), read from the settings on first use."""
        if self._limits is None:
            from app.config import get_settings

            s = get_settings()
            self._limits = (
                s.MAX_REQUEST_HEADERS_KB * KB,
                s.MAX_REQUEST_BODY_KB * KB,
                s.MAX_UPLOAD_MB * 1024 * KB + UPLOAD_SLACK,
            )
        return self._limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_headers, max_body, max_upload = self.limits()
        headers = scope["headers"]
        if sum(len(k) + len(v) for k, v in headers) > max_headers:
            await _refuse(scope, receive, send, 431, f"the request headers exceed {_size(max_headers)}")
            return
        limit = max_upload if scope["path"] == UPLOAD_PATH else max_body
        declared = next((v for k, v in headers if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, 413, BodyTooLarge(limit).message)
            return
        received = 0
        too_large = started = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # the route sees a client that went away; we answer 413 below
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large and not started:
                return  # the route's answer to the cut body is replaced by the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not too_large or started:
                raise
        if too_large and not started:
            await _refuse(scope, receive, send, 413, BodyTooLarge(limit).message)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    # The unread body is not drained: close the connection after this answer.
    response = JSONResponse({"detail": message}, status_code=status, headers={"Connection": "close"})
    await response(scope, receive, send)
