"""Headless Chromium for the report tests, and page helpers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser import launch_chromium

LOCAL_URL = re.compile(r"^(file|data|blob|about):")


@dataclass
class PageLog:
    """What a page did besides rendering: console messages, errors, dialogs and requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


# Module scope: the sync Playwright driver is closed before other test modules (some use asyncio) run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launch_chromium() as b:
        yield b


@pytest.fixture
def open_report(browser: Any) -> Iterator[Any]:
    """open_report(path) -> (page, log): the report loaded from file:// and its data decoded."""
    contexts = []

    def _open(path: Path, color_scheme: str = "light") -> tuple[Any, PageLog]:
        ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, color_scheme=color_scheme)
        contexts.append(ctx)
        page = ctx.new_page()
        log = PageLog()
        page.on(
            "console", lambda m: log.console_errors.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: log.page_errors.append(str(e)))
        page.on("requestfailed", lambda r: log.failed_requests.append(r.url))
        page.on("request", lambda r: None if LOCAL_URL.match(r.url) else log.remote_requests.append(r.url))

        def _dialog(d: Any) -> None:
            log.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", _dialog)
        # Nothing may leave the machine: any non-local request is recorded above and aborted here.
        page.route(re.compile(r"^(?!file:|data:|blob:|about:)"), lambda route: route.abort())
        page.goto(path.resolve().as_uri())
        page.wait_for_function("window.PcapReport && window.PcapReport.ready === true", timeout=60_000)
        return page, log

    yield _open
    for ctx in contexts:
        ctx.close()


def chart_points(page: Any, selector: str) -> int:
    """Marker points plus line vertices Plotly drew in the chart at `selector` (0 when nothing was drawn)."""
    return int(
        page.evaluate(
            """(sel) => {
            const root = document.querySelector(sel);
            if (!root) return 0;
            let n = root.querySelectorAll('.scatterlayer .trace path.point, .barlayer .trace .point').length;
            root.querySelectorAll('.scatterlayer .trace path.js-line').forEach(
                (p) => { n += ((p.getAttribute('d') || '').match(/[ML]/g) || []).length; });
            return n;
        }""",
            selector,
        )
    )

