"""A real SQLite deployment moved to PostgreSQL with `db copy`, then served from PostgreSQL.

Accounts, analyses and the audit log are made through the running service (real password hashes,
approvals, a block, analyses with their report files); after the copy the service, started on
PostgreSQL with the same DATA_DIR, must recognise every old password and serve the old reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import create_postgres_database, drop_postgres_database, require_postgres
from tests.app.db.copy_helpers import file_sha256, run_copy
from tests.app.e2e.server import (
    ADMIN_PASSWORD,
    LiveServer,
    login,
    register_and_approve,
    upload,
    wait_status,
)

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "demo.pcap"
pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_url(postgres_available: bool) -> Iterator[str]:
    require_postgres(postgres_available)
    url = create_postgres_database("pcap_copy_journey")
    try:
        yield url
    finally:
        drop_postgres_database(url)


def _accounts(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Accounts by name, without the fields a new sign-in changes."""
    changing = ("last_login", "updated_at")
    return {u["username"]: {k: v for k, v in u.items() if k not in changing} for u in body["users"]}


def test_sqlite_deployment_moves_to_postgresql(postgres_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    sqlite_file = data_dir / "pcap_analyzer.db"
    sqlite_url = f"sqlite:///{sqlite_file}"

    old = LiveServer(sqlite_url, data_dir)
    old.start()
    try:
        old.create_admin()
        with old.client() as admin:
            login(admin, "admin", ADMIN_PASSWORD)
            alice = register_and_approve(old, admin, "alice")
            carol = register_and_approve(old, admin, "carol")
            pending = old.client()
            r = pending.post(
                "/api/register",
                json={"username": "dave", "email": "dave@example.org", "password": "dave-long-password-1"},
            )
            assert r.status_code == 201, r.text
            carol_id = carol.get("/api/users/me").json()["id"]
            assert admin.put(f"/api/admin/users/{carol_id}/block").status_code == 200
            task_ids = []
            for name in ("first.pcap", "second.pcap"):
                accepted = upload(alice, SAMPLE, name)
                assert accepted.status_code == 202, accepted.text
                task_ids.append(accepted.json()["task_id"])
            for task_id in task_ids:
                wait_status(alice, task_id, {"completed"})
            reports = {t: alice.get(f"/api/reports/{t}/json").content for t in task_ids}
            history = alice.get("/api/history").json()
            audit = admin.get("/api/admin/audit").json()
            users = _accounts(admin.get("/api/users").json())
            for client in (alice, carol, pending):
                client.close()
    finally:
        old.stop()
    assert {e["action"] for e in audit} >= {"user.approve", "user.block"}

    before = file_sha256(sqlite_file)
    done = run_copy(sqlite_url, postgres_url, tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "copied and verified" in done.stdout
    assert file_sha256(sqlite_file) == before

    new = LiveServer(postgres_url, data_dir)
    new.start()
    try:
        with new.client() as admin, new.client() as alice, new.client() as carol, new.client() as dave:
            problems = admin.get("/api/health").json()["problems"]
            assert not [p for p in problems if "db copy" in p]
            login(admin, "admin", ADMIN_PASSWORD)
            login(alice, "alice", "alice-long-password-1")
            assert alice.get("/api/history").json() == history
            for task_id, body in reports.items():
                r = alice.get(f"/api/reports/{task_id}/json")
                assert r.status_code == 200 and r.content == body
                assert alice.get(f"/api/reports/{task_id}/html").status_code == 200
            assert admin.get("/api/admin/audit").json() == audit
            assert _accounts(admin.get("/api/users").json()) == users
            blocked = carol.post(
                "/api/token", data={"username": "carol", "password": "carol-long-password-1"}
            )
            assert blocked.status_code == 403, blocked.text
            waiting = dave.post("/api/token", data={"username": "dave", "password": "dave-long-password-1"})
            assert waiting.status_code == 403 and "approval" in waiting.text
            wrong = dave.post("/api/token", data={"username": "alice", "password": "not-her-password-1"})
            assert wrong.status_code == 401
            # The service goes on on PostgreSQL: a new analysis gets new ids past the copied ones.
            accepted = upload(alice, SAMPLE, "third.pcap")
            assert accepted.status_code == 202, accepted.text
            wait_status(alice, accepted.json()["task_id"], {"completed"})
            assert alice.get("/api/history").json()["total"] == 3
    finally:
        new.stop()
