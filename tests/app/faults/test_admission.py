"""Admission (WEB_MAX_ACTIVE_REQUESTS): a web process works on a few requests at once, the rest wait their
turn; long-lived requests (static files, uploads, progress streams, reports) never wait.

A lock taken from outside holds request A (it reads the tasks table) inside the service; request B (the
caller's account, no tasks) then has to wait for A when one request at a time is allowed, and does not
when admission is off. A static file is served at once either way.
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.app.e2e.server import ADMIN_PASSWORD, LiveServer, login

LOCK_SECONDS = 5


def _psql(pg_url: str, sql: str) -> list[str]:
    url = make_url(pg_url)
    where = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    return ["psql", *where, "-d", url.database or "", "-Atc", sql]


def _wait_for(pg_url: str, sql: str) -> None:
    """Poll until `sql` (a count) answers 1 or more."""
    deadline = time.monotonic() + 30
    while int(subprocess.run(_psql(pg_url, sql), capture_output=True, text=True).stdout.strip() or 0) < 1:
        assert time.monotonic() < deadline, sql
        time.sleep(0.1)


HELD = (
    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
    " WHERE c.relname = 'tasks' AND l.mode = 'AccessExclusiveLock' AND l.granted"
)
WAITING = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%tasks%'"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("limit", [1, 0])
def test_requests_wait_their_turn(pg_url: str, tmp_path: Path, limit: int) -> None:
    env = {"WEB_MAX_ACTIVE_REQUESTS": str(limit), "WORKER_ENABLED": "false"}
    server = LiveServer(pg_url, tmp_path / "data", extra_env=env)
    with server.running_with_admin(), server.client() as client:
        login(client, "admin", ADMIN_PASSWORD)
        client.get("/api/users/me").raise_for_status()
        done: dict[str, float] = {}

        def timed(name: str, path: str) -> int:
            status = client.get(path).status_code
            done[name] = time.monotonic()
            return status

        lock = f"BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({LOCK_SECONDS});"
        locker = subprocess.Popen(_psql(pg_url, lock), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(pg_url, HELD)
            with ThreadPoolExecutor(3) as pool:
                a = pool.submit(timed, "a", "/api/status/00000000-0000-0000-0000-000000000000")
                _wait_for(pg_url, WAITING)  # A is inside the service, waiting for the lock
                b = pool.submit(timed, "b", "/api/users/me")
                static_start = time.monotonic()
                static = httpx.get(f"{server.url}/static/app.js", timeout=30)
                static_s = time.monotonic() - static_start
                assert (a.result(), b.result()) == (404, 200)
            locker.wait(timeout=30)
        finally:
            if locker.poll() is None:
                locker.kill()
        assert static.status_code == 200 and static_s < 2.0, static_s  # never waits for a turn
        if limit == 1:
            assert done["b"] >= done["a"], "B was served while A held the only turn"
        else:
            assert done["b"] < done["a"] - 1.0, "B waited for A although admission is off"
