"""A real SMTP server (aiosmtpd) on 127.0.0.1 with a free port, keeping every delivered message."""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.app.e2e.server import free_port


@dataclass
class Mailbox:
    """Messages received by the SMTP server, in order of arrival."""

    messages: list[EmailMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def wait_for(self, address: str, subject: str, timeout: float = 30, count: int = 1) -> EmailMessage:
        """The `count`-th message to `address` whose subject contains `subject` (waits for it)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.to(address) if subject.lower() in str(m["Subject"]).lower()]
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() > deadline:
                subjects = [str(m["Subject"]) for m in self.to(address)]
                raise AssertionError(f"no mail {subject!r} to {address} within {timeout} s; got {subjects}")
            time.sleep(0.1)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def reset_link(message: EmailMessage) -> str:
    found = re.search(r"https?://\S+/reset-password\?token=[\w-]+", text_of(message))
    assert found, text_of(message)
    return found.group(0)


class SmtpServer:
    """aiosmtpd's Controller (its own thread and event loop) on 127.0.0.1."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def env(self) -> dict[str, str]:
        """The service's settings to send through this server."""
        return {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_STARTTLS": "false",
            "MAIL_FROM": "pcap-analyzer <noreply@example.org>",
        }
