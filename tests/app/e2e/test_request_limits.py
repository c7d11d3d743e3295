"""Issue 12 items 7, 8, 9, 12 against a real server on both databases: proxy addresses and sign-in
throttling, the atomic pending-task limit, body and header size caps, no-store, long file names, and a
malformed audit filter."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.db.tables import tasks
from tests.app.e2e.server import ADMIN_PASSWORD, LiveServer, register_and_approve, upload
from tests.app.faults.captures import write_tcp_capture
from tests.app.faults.dbcheck import insert_rows

PENDING_LIMIT = 5


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # No worker: uploaded tasks stay pending, so the pending limit is exact.
    env = {
        "WORKER_ENABLED": "false",
        "MAX_PENDING_TASKS_PER_USER": str(PENDING_LIMIT),
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    live = LiveServer(database_url, tmp_path_factory.mktemp("limits") / "data", extra_env=env)
    with live.running_with_admin():
        yield live


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tcp_capture(tmp_path_factory.mktemp("cap") / "small.pcap", 50)


def _sign_in(server: LiveServer, username: str, password: str, address: str) -> int:
    r = httpx.post(
        f"{server.url}/api/token",
        data={"username": username, "password": password},
        headers={"X-Forwarded-For": address},
        timeout=30,
    )
    return r.status_code


def test_one_attacker_behind_the_proxy_cannot_block_the_owner(
    server: LiveServer, admin: httpx.Client
) -> None:
    register_and_approve(server, admin, "owner1").close()
    for _ in range(8):  # an attacker guesses from its own address, all through the trusted proxy
        assert _sign_in(server, "owner1", "wrong-password-123", "203.0.113.9") in (401, 429)
    assert _sign_in(server, "owner1", "wrong-password-123", "203.0.113.9") == 429
    assert _sign_in(server, "owner1", "owner1-long-password-1", "198.51.100.20") == 200  # the owner
    register_and_approve(server, admin, "other1").close()
    assert _sign_in(server, "other1", "other1-long-password-1", "203.0.113.10") == 200  # everyone else


def test_parallel_uploads_respect_the_pending_limit(
    server: LiveServer, admin: httpx.Client, capture: Path
) -> None:
    user = register_and_approve(server, admin, "racer")
    token = user.headers["Authorization"]

    def one(_: int) -> int:
        with httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": token}) as c:
            return upload(c, capture).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(one, range(12)))
    assert codes.count(202) == PENDING_LIMIT and codes.count(429) == 12 - PENDING_LIMIT, codes
    assert user.get("/api/history").json()["total"] == PENDING_LIMIT


def test_huge_json_body_is_refused_without_reading_it(server: LiveServer) -> None:
    big = b'{"username": "' + b"a" * (20 * 1024 * 1024) + b'"}'
    r = httpx.post(f"{server.url}/api/register", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["detail"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        yield b'{"username": "'
        for _ in range(200):
            yield b"a" * 65536
        yield b'"}'

    r = httpx.post(
        f"{server.url}/api/register", content=chunked(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413


def test_huge_header_is_refused(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        filler = "x" * (10 * 1024 * 1024)
        try:
            sock.sendall(f"GET /api/health HTTP/1.1\r\nHost: t\r\nX-Filler: {filler}\r\n\r\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            return  # the server hung up on the oversized header: refused
        status = sock.makefile("rb").readline()
    assert status == b"" or status.split()[1] in (b"400", b"413", b"431"), status


def test_api_answers_are_not_cached_and_audit_filter_is_checked(
    server: LiveServer, admin: httpx.Client
) -> None:
    for path in ("/api/health", "/api/history", "/api/users/me"):
        assert admin.get(path).headers["cache-control"] == "no-store", path
    r = admin.get("/api/admin/audit", params={"user_id": "zzz"})
    assert r.status_code == 422, r.text
    assert (
        admin.get("/api/admin/audit", params={"user_id": "00000000-0000-0000-0000-000000000000"}).json() == []
    )


def test_a_5000_character_file_name_is_shortened(
    server: LiveServer, admin: httpx.Client, capture: Path
) -> None:
    user = register_and_approve(server, admin, "longname")
    name = "n" * 5000 + ".pcap"
    r = upload(user, capture, name=name)
    assert r.status_code == 202, r.text
    shown = r.json()["filename"]
    assert len(shown) <= 200 and shown.endswith(".pcap") and shown.startswith("nnnn")


def test_forwarded_for_from_an_untrusted_peer_is_ignored(database_url: str, tmp_path: Path) -> None:
    live = LiveServer(database_url, tmp_path / "data", extra_env={"FORWARDED_ALLOW_IPS": "192.0.2.1"})
    live.start()
    try:
        live.create_admin("admin2")
        for n in range(8):  # each request claims a new address, but 127.0.0.1 is not a trusted proxy
            code = _sign_in(live, "admin2", "wrong-password-123", f"203.0.113.{n}")
        assert code == 429
        with live.client() as c:
            login_ok = c.post("/api/token", data={"username": "admin2", "password": ADMIN_PASSWORD})
        assert login_ok.status_code == 429  # same real address, same pair: still braked
    finally:
        live.stop()


def test_reports_in_the_old_layout_are_still_served(server: LiveServer, admin: httpx.Client) -> None:
    """Tasks completed before per-attempt report files keep their reports/<task-id>.* paths."""
    user = register_and_approve(server, admin, "oldlayout")
    owner = user.get("/api/users/me").json()["id"]
    task_id = str(uuid.uuid4())
    reports = server.data_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / f"{task_id}.json").write_text('{"capture": {"packets": 7}}')
    (reports / f"{task_id}.html").write_text("<html><body>old report</body></html>")
    now = datetime.now(UTC)
    insert_rows(
        server.database_url,
        tasks,
        task_id=task_id,
        filename="old.pcap",
        status="completed",
        uploaded_at=now,
        completed_at=now,
        expires_at=now + timedelta(hours=1),
        total_packets=7,
        report_json_path=str(reports / f"{task_id}.json"),
        report_html_path=str(reports / f"{task_id}.html"),
        owner_id=uuid.UUID(owner),
    )
    assert user.get(f"/api/reports/{task_id}/json").json() == {"capture": {"packets": 7}}
    assert "old report" in user.get(f"/api/reports/{task_id}/html").text
