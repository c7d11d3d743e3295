"""Account pages in headless Chromium against a real server with a real SMTP server: password reset by
email, and two-factor sign-in set up from the profile page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest

from tests.app.e2e.mailbox import SmtpServer, reset_link
from tests.app.e2e.server import LiveServer, free_port
from tests.app.e2e.test_browser_ui import browser, open_tab, sign_in  # noqa: F401 (fixtures)
from tests.browser import save_screenshot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[LiveServer]:
    port = free_port()
    env = {**smtp.env(), "APP_BASE_URL": f"http://127.0.0.1:{port}", "WORKER_ENABLED": "false"}
    live = LiveServer(database_url, tmp_path_factory.mktemp("ui-accounts") / "data", extra_env=env, port=port)
    with live.running_with_admin():
        yield live


def approved_user(server: LiveServer, admin: httpx.Client, name: str, password: str) -> None:
    r = httpx.post(
        f"{server.url}/api/register",
        json={"username": name, "email": f"{name}@example.org", "password": password},
    )
    assert r.status_code == 201, r.text
    assert admin.put(f"/api/admin/users/{r.json()['id']}/approve").status_code == 200


def flash(page: Any) -> str:
    page.wait_for_selector("#flash p")
    return str(page.inner_text("#flash"))


def test_forgot_password_mail_link_new_password_sign_in(
    open_tab: Any,  # noqa: F811
    server: LiveServer,
    admin: httpx.Client,
    smtp: SmtpServer,
) -> None:
    approved_user(server, admin, "paula", "paula orbit walrus 1987")
    tab = open_tab()
    page = tab.page
    page.goto("/login")
    page.click("text=Forgot your password?")
    page.wait_for_url(re.compile(r"/forgot-password$"))
    page.fill("#email", "paula@example.org")
    page.click("#forgot-form button[type=submit]")
    page.wait_for_selector("#forgot-done", state="visible")
    assert "if an account uses this address" in page.inner_text("#forgot-message")

    link = reset_link(smtp.mailbox.wait_for("paula@example.org", "Reset your"))
    page.goto(link)
    page.wait_for_selector("#reset-form", state="visible")
    page.fill("#new_password", "paula1234567")
    page.fill("#new_password2", "paula1234567")
    page.click("#reset-form button[type=submit]")
    assert "too easy to guess" in flash(page)  # zxcvbn's feedback, and the link still works
    page.fill("#new_password", "lantern quartz fjord 2031")
    page.fill("#new_password2", "lantern quartz fjord 2031")
    page.click("#reset-form button[type=submit]")
    page.wait_for_selector("#reset-done", state="visible")
    save_screenshot(page, "ui-reset-done.png")

    page.goto(link)  # the link worked once
    page.wait_for_selector("#reset-invalid", state="visible")

    sign_in(tab, "paula", "lantern quartz fjord 2031")
    page.wait_for_url(re.compile(r"/upload$"))


def test_two_factor_from_the_profile_page(
    open_tab: Any,  # noqa: F811
    server: LiveServer,
    admin: httpx.Client,
) -> None:
    password = "quentin orbit walrus 1987"
    approved_user(server, admin, "quentin", password)
    tab = open_tab()
    page = tab.page
    sign_in(tab, "quentin", password)
    page.wait_for_url(re.compile(r"/upload$"))
    page.goto("/profile")
    page.click("#twofa-start")
    page.wait_for_selector("#twofa-enable-form", state="visible")
    assert page.get_attribute("#twofa-qr", "src").startswith("data:image/svg+xml;base64,")
    secret = page.inner_text("#twofa-secret").strip()
    page.fill("#twofa-code", pyotp.TOTP(secret).now())
    page.click("#twofa-enable-form button[type=submit]")
    page.wait_for_selector("#twofa-backup", state="visible")
    codes = page.locator("#twofa-backup-codes li").all_inner_texts()
    assert len(codes) == 10
    assert "is on" in page.inner_text("#twofa-status")
    save_screenshot(page, "ui-2fa-on.png")

    page.click("#logout")
    page.wait_for_url(re.compile(r"/login$"))
    sign_in(tab, "quentin", password)
    assert "two-factor code required" in flash(page)
    page.wait_for_selector("#totp-field", state="visible")
    page.fill("#totp_code", "000000")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#flash p:has-text('invalid or already used')")
    assert page.url.endswith("/login")
    page.fill("#totp_code", codes[0])
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/upload$"))

    page.click("#logout")
    page.wait_for_url(re.compile(r"/login$"))
    page.fill("#username", "quentin")
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#totp-field", state="visible")
    page.fill("#totp_code", codes[0])  # a backup code works once
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#flash p:has-text('invalid or already used')")
    assert page.url.endswith("/login")
    unexpected = [e for e in tab.errors if "status of 401" not in e]
    assert unexpected == []
