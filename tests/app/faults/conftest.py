"""Fault-injection fixtures: a PostgreSQL database per test, worker processes, captures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.db.migrate import upgrade_to_head
from tests.app.conftest import create_postgres_database, drop_postgres_database, require_postgres
from tests.app.e2e.server import ROOT
from tests.app.faults import pgcluster
from tests.app.faults.captures import write_tcp_capture
from tests.app.faults.pgcluster import PrivateCluster

CAPTURE_PACKETS = 20_000


@pytest.fixture
def pg_url(postgres_available: bool) -> Iterator[str]:
    """A new PostgreSQL database at Alembic head (on the shared test server) for this test."""
    require_postgres(postgres_available)
    url = create_postgres_database("pcap_fault")
    try:
        upgrade_to_head(url)
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def tcp_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 TCP segments (known by construction)."""
    return write_tcp_capture(tmp_path_factory.mktemp("captures") / "tcp20k.pcap", CAPTURE_PACKETS)


class WorkerProcess:
    """A real `pcap-analyzer worker` process with its own log."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "worker", "--concurrency", "1"],
            env=env,
            cwd=ROOT,
            stdout=open(log_path, "wb"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def private_pg() -> Iterator[PrivateCluster]:
    """A running private PostgreSQL cluster the test may stop and start (never the shared server)."""
    reason = pgcluster.available()
    if reason is not None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but no private cluster: {reason}", pytrace=False)
        pytest.skip(reason)
    cluster = PrivateCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
