"""The browser UI in headless Chromium against a real server: register to approval, upload, report, delete."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.app.e2e.server import ADMIN_PASSWORD, LiveServer
from tests.browser import launch_chromium, save_screenshot

pytestmark = pytest.mark.browser

USER = "browseruser"
USER_PASSWORD = "browser-user-long-password-7"


@dataclass
class Tab:
    """A browser context (its own cookies) with everything the page logged."""

    page: Any
    errors: list[str] = field(default_factory=list)


# Depends on `server` so the browser closes before the next database's server starts: the sync Playwright
# driver runs an event loop, and the database fixtures need asyncio.run().
@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Any]:
    with launch_chromium() as b:
        yield b


@pytest.fixture
def open_tab(browser: Any, server: LiveServer) -> Iterator[Any]:
    contexts: list[Any] = []

    def _open() -> Tab:
        ctx = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(30_000)
        contexts.append(ctx)
        tab = Tab(ctx.new_page())
        tab.page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
        tab.page.on("pageerror", lambda e: tab.errors.append(str(e)))
        # ERR_ABORTED is a request cancelled by the page navigating away, not a failure.
        tab.page.on(
            "requestfailed",
            lambda r: None if "ERR_ABORTED" in (r.failure or "") else tab.errors.append(r.url),
        )
        # Nothing but the server itself: no CDN, no telemetry.
        tab.page.route(
            re.compile(r"^(?!" + re.escape(server.url) + r"|data:|blob:|about:)"),
            lambda route: (tab.errors.append(f"remote request: {route.request.url}"), route.abort()),
        )
        tab.page.on("dialog", lambda d: d.accept())
        return tab

    yield _open
    for ctx in contexts:
        ctx.close()


def wait_until(page: Any, predicate: str, timeout: float = 60) -> None:
    """Poll a JS predicate (wait_for_function needs eval, which the pages' CSP rightly forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        time.sleep(0.2)


def sign_in(tab: Tab, username: str, password: str) -> None:
    page = tab.page
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")


def test_register_approve_upload_report_delete(
    open_tab: Any, server: LiveServer, admin: httpx.Client, corpus_dir: Path, oracle: dict[str, Any]
) -> None:
    visitor = open_tab()
    page = visitor.page
    page.goto("/register")
    page.fill("#username", USER)
    page.fill("#email", f"{USER}@example.org")
    page.fill("#password", USER_PASSWORD)
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("#register-done", state="visible")
    assert "approve" in page.inner_text("#register-done")

    sign_in(visitor, USER, USER_PASSWORD)  # still pending: refused, with the reason
    page.wait_for_selector("#flash p.error")
    assert "approv" in page.inner_text("#flash").lower()
    assert page.url.endswith("/login")
    refused = "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    assert visitor.errors == [refused]
    visitor.errors.clear()

    boss = open_tab()
    sign_in(boss, "admin", ADMIN_PASSWORD)
    boss.page.wait_for_url(re.compile(r"/upload$"))
    boss.page.goto("/admin")
    row = boss.page.locator(f'#users-table tr[data-username="{USER}"]')
    row.wait_for()
    first_row = boss.page.locator("#users-table tbody tr").first
    assert first_row.get_attribute("data-username") == USER, "pending accounts are listed first"
    assert row.locator(".status").inner_text() == "pending"
    row.get_by_role("button", name="Approve").click()
    expect(row.locator(".status")).to_have_text("approved")
    save_screenshot(boss.page, "ui-admin.png")

    sign_in(visitor, USER, USER_PASSWORD)
    page.wait_for_url(re.compile(r"/upload$"))
    capture = corpus_dir / "netns_mixed_s128.pcap"
    page.set_input_files("#file", str(capture))
    page.click("#upload-button")
    page.wait_for_selector("#analysis-status", state="visible")
    page.wait_for_selector("#analysis-done", state="visible", timeout=180_000)
    assert page.eval_on_selector("#upload-progress", "p => p.value") == 100
    assert page.eval_on_selector("#analysis-progress", "p => p.value") == 100
    assert page.inner_text("#analysis-text").startswith("Completed")
    save_screenshot(page, "ui-upload-done.png")

    page.click("#report-link")
    wait_until(page, "() => Boolean(window.PcapReport && window.PcapReport.ready)")
    expected_packets = oracle[capture.name]["file"]["frames"]
    body = page.inner_text("body")
    assert f"{expected_packets:,}" in body or str(expected_packets) in body
    save_screenshot(page, "ui-report.png")

    page.goto("/history")
    history_row = page.locator("#history-table tbody tr").first
    history_row.wait_for()
    task_id = history_row.get_attribute("data-task-id")
    cells = history_row.locator("td").all_inner_texts()
    assert cells[0] == capture.name and "completed" in cells
    assert f"{expected_packets:,}" in cells or str(expected_packets) in cells
    assert re.search(r"\d+ h \d+ min|\d+ min", " ".join(cells)), cells  # expiry countdown
    save_screenshot(page, "ui-history.png")
    history_row.get_by_role("button", name="Delete").click()
    page.wait_for_selector("#history-empty", state="visible")

    with server.client() as client:
        r = client.post("/api/token", data={"username": USER, "password": USER_PASSWORD})
        token = r.json()["access_token"]
        gone = client.get(f"/api/status/{task_id}", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 404

    assert visitor.errors == [] and boss.errors == []


def test_pages_need_a_session(open_tab: Any) -> None:
    tab = open_tab()
    for path in ("/upload", "/history", "/admin", "/profile"):
        tab.page.goto(path)
        tab.page.wait_for_url(re.compile(r"/login$"))
    # The only errors are the refused API probes that sent the visitor to the sign-in page.
    assert all("401" in e for e in tab.errors), tab.errors


def test_admin_creates_user_who_must_change_the_temporary_password(open_tab: Any) -> None:
    boss = open_tab()
    sign_in(boss, "admin", ADMIN_PASSWORD)
    boss.page.wait_for_url(re.compile(r"/upload$"))
    boss.page.goto("/admin")
    boss.page.fill("#new-username", "tempuser")
    boss.page.fill("#new-email", "tempuser@example.org")
    boss.page.click("#create-user-form button[type=submit]")
    notice = boss.page.locator("#temp-password")
    expect(notice).to_be_visible()
    temporary = re.search(r"tempuser: (\S+) ", notice.inner_text())
    assert temporary, notice.inner_text()
    expect(boss.page.locator('#users-table tr[data-username="tempuser"] .status')).to_have_text("approved")

    newcomer = open_tab()
    sign_in(newcomer, "tempuser", temporary.group(1))
    page = newcomer.page
    page.wait_for_url(re.compile(r"/profile$"))
    expect(page.locator("#must-change")).to_be_visible()
    page.goto("/upload")  # every page insists until the password is changed
    page.wait_for_url(re.compile(r"/profile$"))
    new_password = "a-fresh-long-password-9"
    page.fill("#current_password", temporary.group(1))
    page.fill("#new_password", new_password)
    page.fill("#new_password2", new_password)
    page.click("#password-form button[type=submit]")
    expect(page.locator("#flash")).to_have_text("Password changed.")
    expect(page.locator("#must-change")).to_be_hidden()
    page.goto("/upload")
    expect(page.locator("h1")).to_have_text("Analyse a capture")
    assert page.url.endswith("/upload")
    assert boss.errors == [] and newcomer.errors == []
