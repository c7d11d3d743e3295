"""Issue 12.5: health tells a saturated pool ("busy", 200) from a database that is down (503).

The web process gets a pool of one connection; a lock taken from outside makes the one request holding it
wait, so the next health checks cannot get a connection in time: busy, not "database unreachable".
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.app.e2e.server import LiveServer

ONE_CONNECTION = {
    "DB_POOL_MIN_SIZE": "1",
    "DB_POOL_MAX_SIZE": "1",
    "DB_POOL_TIMEOUT_SECONDS": "1",
    "WORKER_ENABLED": "false",
}


@pytest.mark.timeout(120)
def test_saturated_pool_is_busy_not_down(pg_url: str, tmp_path: Path) -> None:
    server = LiveServer(pg_url, tmp_path / "data", extra_env=ONE_CONNECTION)
    server.start()
    url = make_url(pg_url)
    locker = subprocess.Popen(
        [
            "psql",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            "-d",
            url.database or "",
            "-c",
            "BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10);",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.5)  # the lock is held now (for 10 s)
        with ThreadPoolExecutor(3) as pool:
            first = pool.submit(httpx.get, f"{server.url}/api/health", timeout=30)  # takes the connection
            time.sleep(0.5)
            others = [pool.submit(httpx.get, f"{server.url}/api/health", timeout=30) for _ in range(2)]
            answers = [f.result() for f in others]
            first.result()
        for r in answers:
            body = r.json()
            assert (r.status_code, body["database_state"], body["database"]) == (200, "busy", True), body
        locker.wait(timeout=30)
        deadline = time.monotonic() + 20
        while (r := httpx.get(f"{server.url}/api/health", timeout=10)).json()["database_state"] != "ok":
            assert time.monotonic() < deadline, r.text
            time.sleep(0.3)
    finally:
        if locker.poll() is None:
            locker.kill()
        server.stop()
