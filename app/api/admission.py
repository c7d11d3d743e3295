"""Admission: each web process works on at most WEB_MAX_ACTIVE_REQUESTS requests at once.

Past that, requests wait their turn in arrival order (asyncio's semaphore is first-come, first-served).
Without it, a process under a burst interleaves hundreds of requests step by step: each one then
takes as long as the whole burst, and the CPU goes to switching between them instead of finishing
them. With a few requests at a time, each finishes in a few milliseconds of work and the queue drains
in order, which keeps the slowest answers close to the typical one.

Long-lived requests are not counted: uploads (the client sets their pace), progress streams (open for
the whole analysis) and report downloads.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.limits import UPLOAD_PATH

_LONG_LIVED_PREFIXES = ("/api/progress/", "/api/reports/", "/static/")


class RequestAdmission:
    """ASGI middleware admitting at most `WEB_MAX_ACTIVE_REQUESTS` short requests at once (0: no limit)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._limit: int | None = None
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def slots(self) -> asyncio.Semaphore | None:
        """This event loop's semaphore (the limit is read from the settings on first use)."""
        if self._limit is None:
            from app.config import get_settings

            self._limit = get_settings().WEB_MAX_ACTIVE_REQUESTS
        if self._limit <= 0:
            return None
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:  # a semaphore belongs to one loop
            self._slots = (loop, asyncio.Semaphore(self._limit))
        return self._slots[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slots = self.slots() if scope["type"] == "http" else None
        path = scope.get("path", "")
        if slots is None or path == UPLOAD_PATH or path.startswith(_LONG_LIVED_PREFIXES):
            await self.app(scope, receive, send)
            return
        async with slots:
            await self.app(scope, receive, send)
