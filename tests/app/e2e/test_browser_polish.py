"""The rough edges of the browser UI, in headless Chromium against a real server whose upload limit is 1 MB:
navigation on the sign-in pages, the stated size limit, a rejected upload, the summary of a completed
analysis, the uploaded name in the reports, warnings in the history, pages for admins only and for unknown
analyses, browser 404s, the favicon, ReDoc without a CDN, the history on a phone, the password rule."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.app.e2e.server import ADMIN_PASSWORD, ROOT, LiveServer, register_and_approve
from tests.app.e2e.test_browser_ui import Tab, sign_in, wait_until
from tests.browser import launch_chromium, save_screenshot

pytestmark = pytest.mark.browser

DEMO = ROOT / "samples" / "demo.pcap"
UPLOAD_LIMIT_MB = 1


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(
        database_url,
        tmp_path_factory.mktemp("polish") / "data",
        extra_env={"MAX_UPLOAD_MB": str(UPLOAD_LIMIT_MB)},
    )
    with live.running_with_admin():
        yield live


@pytest.fixture(scope="module")
def member(server: LiveServer, admin: httpx.Client) -> tuple[str, str]:
    """An approved non-admin account: (username, password)."""
    register_and_approve(server, admin, "polisher").close()
    return "polisher", "polisher-long-password-1"


@pytest.fixture(scope="module")
def browser(server: LiveServer) -> Iterator[Any]:
    with launch_chromium() as b:
        yield b


@pytest.fixture
def open_tab(browser: Any, server: LiveServer) -> Iterator[Any]:
    contexts: list[Any] = []

    def _open(width: int = 1280, height: int = 900) -> Tab:
        ctx = browser.new_context(base_url=server.url, viewport={"width": width, "height": height})
        ctx.set_default_timeout(30_000)
        contexts.append(ctx)
        tab = Tab(ctx.new_page())
        tab.page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
        tab.page.on("pageerror", lambda e: tab.errors.append(str(e)))
        tab.page.route(
            re.compile(r"^(?!" + re.escape(server.url) + r"|data:|blob:|about:)"),
            lambda route: (tab.errors.append(f"remote request: {route.request.url}"), route.abort()),
        )
        tab.page.on("dialog", lambda d: d.accept())
        return tab

    yield _open
    for ctx in contexts:
        ctx.close()


def _signed_in(open_tab: Any, username: str, password: str, **size: int) -> Tab:
    tab: Tab = open_tab(**size)
    sign_in(tab, username, password)
    tab.page.wait_for_url(re.compile(r"/(upload|profile)$"))
    return tab


def _frames(capture: Path) -> int:
    """tshark's frame count of a capture (the oracle for the summary line)."""
    out = subprocess.run(["capinfos", "-M", "-c", str(capture)], capture_output=True, text=True, check=True)
    match = re.search(r"Number of packets:\s+(\d+)", out.stdout)
    assert match, out.stdout
    return int(match.group(1))


def test_sign_in_pages_show_no_signed_in_navigation(open_tab: Any) -> None:
    tab = open_tab()
    for path in ("/login", "/register"):
        tab.page.goto(path)
        tab.page.wait_for_selector("main h1")
        assert not tab.page.is_visible("#nav") and not tab.page.is_visible("#logout"), path
    save_screenshot(tab.page, "ui-register.png")
    assert tab.errors == []


def test_upload_states_the_limit_and_resets_after_a_rejection(
    open_tab: Any, member: tuple[str, str], tmp_path: Path
) -> None:
    tab = _signed_in(open_tab, *member)
    page = tab.page
    assert page.inner_text("#max-mb") == f"{UPLOAD_LIMIT_MB:,} MB"
    too_big = tmp_path / "big.pcap"
    too_big.write_bytes(DEMO.read_bytes() * 3)  # 2.1 MB
    page.set_input_files("#file", str(too_big))
    page.click("#upload-button")
    page.wait_for_selector("#flash p.error")
    assert "limit" in page.inner_text("#flash") or "interrupted" in page.inner_text("#flash")
    assert page.is_hidden("#upload-status")
    assert page.eval_on_selector("#upload-progress", "p => p.value") == 0
    save_screenshot(page, "ui-upload-rejected.png")


def test_completed_analysis_summary_and_uploaded_name(
    open_tab: Any, member: tuple[str, str], tmp_path: Path, server: LiveServer
) -> None:
    named = tmp_path / "Office link, Tuesday.pcap"
    named.write_bytes(DEMO.read_bytes())
    tab = _signed_in(open_tab, *member)
    page = tab.page
    page.set_input_files("#file", str(named))
    page.click("#upload-button")
    page.wait_for_selector("#analysis-done", state="visible", timeout=180_000)
    wait_until(page, "() => document.getElementById('analysis-text').textContent.startsWith('Completed:')")
    summary = page.inner_text("#analysis-text")
    assert re.fullmatch(rf"Completed: {_frames(DEMO):,} packets analysed, health \d+/100\.", summary), summary
    save_screenshot(page, "ui-upload-summary.png")

    task_id = page.get_attribute("#report-link", "href").split("/")[3]
    report = page.context.request.get(f"/api/reports/{task_id}/json").json()
    assert report["capture"]["file_name"] == named.name
    page.click("#report-link")
    wait_until(page, "() => Boolean(window.PcapReport && window.PcapReport.ready)")
    assert page.title() == f"Network report: {named.name}"
    assert named.name in page.inner_text("h1") and "uploads" not in page.content()
    assert tab.errors == []


def test_history_marks_a_completed_analysis_with_a_warning(
    open_tab: Any, member: tuple[str, str], tmp_path: Path
) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(DEMO.read_bytes()[:300_017])  # ends inside a record: analysed up to there, with a warning
    tab = _signed_in(open_tab, *member)
    page = tab.page
    page.set_input_files("#file", str(cut))
    page.click("#upload-button")
    page.wait_for_selector("#analysis-done", state="visible", timeout=180_000)
    wait_until(page, "() => document.getElementById('analysis-text').textContent.includes('Warning:')")
    page.goto("/history")
    row = page.locator("#history-table tbody tr", has_text="cut.pcap").first
    row.wait_for()
    status = row.locator("td.status")
    assert " ".join(status.inner_text().split()) == "completed with a warning"
    assert "truncat" in (status.get_attribute("title") or "") or "byte" in (
        status.get_attribute("title") or ""
    )
    clean = page.locator("#history-table tbody tr", has_text="Office link").first
    assert " ".join(clean.locator("td.status").inner_text().split()) == "completed"
    save_screenshot(page, "ui-history-warning.png")

    phone = _signed_in(open_tab, *member, width=390, height=844)
    phone.page.goto("/history")
    phone.page.locator("#history-table tbody tr").first.wait_for()
    widths = phone.page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths  # nothing scrolls sideways at phone width
    assert phone.page.is_visible("text=with a warning")
    save_screenshot(phone.page, "ui-history-phone.png")


def test_admin_page_tells_a_member_it_is_for_admins_only(open_tab: Any, member: tuple[str, str]) -> None:
    tab = _signed_in(open_tab, *member)
    tab.page.goto("/admin")
    tab.page.wait_for_selector("#admins-only", state="visible")
    assert "administrators only" in tab.page.inner_text("#admins-only")
    assert tab.page.is_hidden("#admin-panel") and tab.page.is_hidden("#create-user-form")
    save_screenshot(tab.page, "ui-admins-only.png")


def test_admin_history_is_titled_all_analyses(open_tab: Any) -> None:
    tab = _signed_in(open_tab, "admin", ADMIN_PASSWORD)
    tab.page.goto("/history")
    wait_until(tab.page, "() => document.getElementById('history-title').textContent === 'All analyses'")
    assert tab.page.title().startswith("All analyses")
    assert tab.page.is_visible("th.owner-col")


def test_unknown_task_says_so(open_tab: Any, member: tuple[str, str]) -> None:
    tab = _signed_in(open_tab, *member)
    tab.page.goto("/tasks/00000000-0000-4000-8000-000000000000")
    tab.page.wait_for_selector("#task-missing", state="visible")
    assert "no analysis with this id" in tab.page.inner_text("#task-missing")
    assert tab.page.is_hidden("#analysis-progress")
    assert "connection closed" not in tab.page.inner_text("main")
    save_screenshot(tab.page, "ui-task-unknown.png")


def test_browsers_get_a_404_page_api_clients_json(open_tab: Any, server: LiveServer) -> None:
    tab = open_tab()
    response = tab.page.goto("/no/such/page")
    assert response is not None and response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    assert tab.page.inner_text("h1") == "Page not found" and "/no/such/page" in tab.page.inner_text("main")
    assert tab.page.is_hidden("#nav")
    save_screenshot(tab.page, "ui-404.png")
    with server.client() as client:
        api = client.get("/api/no-such-thing", headers={"Accept": "text/html,application/json"})
        page = client.get("/no/such/page", headers={"Accept": "application/json"})
        icon = client.get("/favicon.ico")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    assert page.status_code == 404 and page.json() == {"detail": "Not Found"}
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg")
    tab.page.goto("/login")
    assert tab.page.get_attribute("link[rel=icon]", "href") == "/static/favicon.svg"


def test_redoc_loads_nothing_from_another_site(open_tab: Any, server: LiveServer) -> None:
    with server.client() as client:
        bundle = client.get("/docs-assets/redoc.standalone.js")
        logo = client.get("/static/redoc-logo.svg")
    assert bundle.status_code == 200 and "cdn.redoc.ly" not in bundle.text
    assert "/static/redoc-logo.svg" in bundle.text and logo.status_code == 200
    tab = open_tab()
    requested: list[str] = []
    tab.page.on("request", lambda r: requested.append(r.url))
    tab.page.goto("/redoc")
    tab.page.wait_for_selector("text=pcap-analyzer", timeout=60_000)
    time.sleep(1)
    logo = tab.page.locator("img[alt='redocly logo']")
    if logo.count():
        assert logo.first.get_attribute("src") == "/static/redoc-logo.svg"
    assert [e for e in tab.errors if "remote request" in e] == []
    assert any(u.endswith("/docs-assets/redoc.standalone.js") for u in requested), requested


def test_openapi_password_rule_matches_the_server(server: LiveServer) -> None:
    with server.client() as client:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        short = client.post(
            "/api/register", json={"username": "shorty", "email": "s@example.org", "password": "x" * 11}
        )
        enough = client.post(
            "/api/register",
            json={"username": "longer", "email": "l@example.org", "password": "m1ld-Otter-9k"},
        )
    assert schemas["RegisterIn"]["properties"]["password"]["minLength"] == 12
    assert schemas["PasswordChangeIn"]["properties"]["new_password"]["minLength"] == 12
    assert short.status_code == 400 and "12" in short.json()["detail"]
    assert enough.status_code == 201, enough.text
