"""Account emails: settings, rendering, background delivery with retries to a real SMTP server."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from app.config import load_settings
from app.errors import ConfigError
from app.services.mail import Mailer, render
from tests.app.e2e.mailbox import SmtpServer, html_of, text_of

SECRET = "k" * 40


def settings(**values: object):  # type: ignore[no-untyped-def]
    return load_settings(SECRET_KEY=SECRET, **values)


def test_mail_and_hsts_settings() -> None:
    assert not settings().mail_enabled  # off unless SMTP_HOST is set
    assert settings(SMTP_HOST="mail.example.org").mail_enabled
    assert not settings(SMTP_HOST="mail.example.org", MAIL_ENABLED=False).mail_enabled
    with pytest.raises(ConfigError, match="MAIL_ENABLED=true needs SMTP_HOST"):
        settings(MAIL_ENABLED=True)
    with pytest.raises(ConfigError, match="exclude each other"):
        settings(SMTP_HOST="m", SMTP_TLS=True, SMTP_STARTTLS=True)
    assert settings(APP_BASE_URL="https://pcap.example.org/").APP_BASE_URL == "https://pcap.example.org"
    assert settings(ENVIRONMENT="production").HSTS_ENABLED
    assert not settings(ENVIRONMENT="development").HSTS_ENABLED
    assert settings(ENVIRONMENT="development", HSTS_ENABLED=True).HSTS_ENABLED


def test_messages_have_text_and_html_parts_with_escaped_values() -> None:
    s = settings(APP_BASE_URL="https://pcap.example.org")
    message = render("new_registration", s, "admin@example.org", username="<b>eve</b>", email="eve@x.org")
    assert message["Subject"] == "New pcap-analyzer account waiting for approval: <b>eve</b>"
    assert '"<b>eve</b>"' in text_of(message)
    html = html_of(message)
    assert "&lt;b&gt;eve&lt;/b&gt;" in html and "<b>eve</b>" not in html
    assert 'href="https://pcap.example.org/admin"' in html


async def test_sending_never_waits_and_retries_until_the_server_answers() -> None:
    smtp = SmtpServer()
    mailer = Mailer(settings(**smtp.env(), MAIL_MAX_ATTEMPTS=5), retry_base_delay_s=0.3)
    start = time.perf_counter()
    assert mailer.send("account_approved", "ann@example.org", username="ann")
    assert time.perf_counter() - start < 0.1  # queued, not sent: the server is not even up yet
    await asyncio.sleep(0.5)  # the first attempts fail (connection refused)
    with smtp:
        await mailer.drain(timeout=30)
        assert smtp.mailbox.wait_for("ann@example.org", "approved", timeout=1)


async def test_a_final_failure_is_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    smtp = SmtpServer()  # never started: every attempt is refused
    mailer = Mailer(settings(**smtp.env(), MAIL_MAX_ATTEMPTS=2), retry_base_delay_s=0.05)
    link = "https://pcap.example.org/reset-password?token=SECRET-TOKEN-VALUE"
    with caplog.at_level(logging.INFO, logger="app.mail"):
        mailer.send("password_reset", "victim@example.org", username="victim", link=link, minutes=60)
        await mailer.drain(timeout=30)
    assert "mail password_reset not sent after 2 attempts" in caplog.text
    assert "SECRET-TOKEN-VALUE" not in caplog.text and "victim" not in caplog.text
    assert not Mailer(settings()).send("account_approved", "x@example.org", username="x")  # mail off
