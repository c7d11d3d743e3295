"""A live server per test module and database, with a signed-in administrator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.app.e2e.mailbox import SmtpServer
from tests.app.e2e.server import ADMIN_PASSWORD, LiveServer, login


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(database_url, tmp_path_factory.mktemp("e2e") / "data")
    with live.running_with_admin():
        yield live


@pytest.fixture(scope="module")
def admin(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        login(client, "admin", ADMIN_PASSWORD)
        yield client


@pytest.fixture
def corpus_capture(corpus_dir: Path) -> Path:
    return corpus_dir / "netns_mixed_s128.pcap"


@pytest.fixture(scope="module")
def smtp(database_url: str) -> Iterator[SmtpServer]:
    """One real SMTP server (aiosmtpd on loopback) and its mailbox per database's server."""
    with SmtpServer() as server:
        yield server
