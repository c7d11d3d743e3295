"""Account emails over SMTP (aiosmtplib), rendered from templates (text + HTML), sent in the background.

`Mailer.send()` never blocks or fails the request that triggers it: the message is rendered at once and
delivered by a background task that retries with growing delays; a final failure is logged with the
template name and the error class only (no address, no link, no password).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.config import Settings

log = logging.getLogger("app.mail")
TEMPLATES = Path(__file__).resolve().parent / "mail_templates"
RETRY_BASE_DELAY_S = 1.0

SUBJECTS = {
    "registration_received": "Your pcap-analyzer registration was received",
    "registration_conflict": "About your pcap-analyzer registration",
    "new_registration": "New pcap-analyzer account waiting for approval: {username}",
    "account_approved": "Your pcap-analyzer account was approved",
    "password_reset": "Reset your pcap-analyzer password",
    "password_changed": "Your pcap-analyzer password was changed",
    "temporary_password": "Your new temporary pcap-analyzer password",
    "2fa_enabled": "Two-factor sign-in was turned on for your pcap-analyzer account",
    "2fa_disabled": "Two-factor sign-in was turned off for your pcap-analyzer account",
}

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)


def render(template: str, settings: Settings, to: str, **context: Any) -> EmailMessage:
    """The message `template` (text and HTML parts) for `to`."""
    values = {"base_url": settings.APP_BASE_URL, **context}
    message = EmailMessage()
    message["Subject"] = SUBJECTS[template].format(**values)
    message["From"] = settings.MAIL_FROM
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="pcap-analyzer")
    message.set_content(_env.get_template(f"{template}.txt").render(values))
    message.add_alternative(_env.get_template(f"{template}.html").render(values), subtype="html")
    return message


class Mailer:
    """Sends account emails when mail is enabled (SMTP_HOST set, MAIL_ENABLED not false)."""

    def __init__(self, settings: Settings, retry_base_delay_s: float = RETRY_BASE_DELAY_S) -> None:
        self.settings = settings
        self.retry_base_delay_s = retry_base_delay_s
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self.settings.mail_enabled

    def send(self, template: str, to: str | list[str], **context: Any) -> bool:
        """Queue a message to each recipient; False when mail is off (nothing queued)."""
        if not self.enabled:
            return False
        for address in [to] if isinstance(to, str) else to:
            message = render(template, self.settings, address, **context)
            task = asyncio.create_task(self._deliver(template, message))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return True

    async def _deliver(self, template: str, message: EmailMessage) -> None:
        s = self.settings
        for attempt in range(1, s.MAIL_MAX_ATTEMPTS + 1):
            try:
                await aiosmtplib.send(
                    message,
                    hostname=s.SMTP_HOST,
                    port=s.SMTP_PORT,
                    username=s.SMTP_USER or None,
                    password=s.SMTP_PASSWORD or None,
                    use_tls=s.SMTP_TLS,
                    start_tls=None if s.SMTP_TLS else s.SMTP_STARTTLS,
                    timeout=s.SMTP_TIMEOUT_SECONDS,
                )
                log.info("mail %s sent", template)
                return
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                last = f"{type(exc).__name__}"
                if attempt < s.MAIL_MAX_ATTEMPTS:
                    log.warning("mail %s: attempt %d failed (%s); retrying", template, attempt, last)
                    await asyncio.sleep(self.retry_base_delay_s * 2 ** (attempt - 1))
        log.error("mail %s not sent after %d attempts (%s)", template, s.MAIL_MAX_ATTEMPTS, last)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait (bounded) for queued messages, e.g. at shutdown."""
        if self._pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._pending, return_exceptions=True), timeout)
