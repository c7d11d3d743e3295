"""Issue 12.2 and 12.4: a PostgreSQL outage answered with 503 + Retry-After, and survived.

A private PostgreSQL cluster (its own port, never the shared server) is stopped and started under a
real `serve` process and a real worker process.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from app.db.migrate import upgrade_to_head
from tests.app.e2e.server import ADMIN_PASSWORD, LiveServer, login, register_and_approve, upload
from tests.app.faults.conftest import CAPTURE_PACKETS, WorkerProcess
from tests.app.faults.dbcheck import execute, query
from tests.app.faults.pgcluster import PrivateCluster

FAST_LEASE = {"TASK_LEASE_SECONDS": "3", "TASK_HEARTBEAT_SECONDS": "1", "WORKER_ENABLED": "false"}


def _exchange(sock: socket.socket, reader: BinaryIO, path: str, auth: str) -> tuple[int, bytes]:
    """One GET on an open keep-alive socket: (status, body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: {auth}\r\n\r\n".encode())
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
        assert not (name.lower() == "connection" and "close" in value.lower()), "connection closed"
    return status, reader.read(length)


def _server(cluster: PrivateCluster, tmp_path: Path, **env: str) -> LiveServer:
    url = cluster.create_database("app")
    upgrade_to_head(url)
    server = LiveServer(url, tmp_path / "data", extra_env={**FAST_LEASE, **env})
    server.start()
    server.create_admin()
    return server


@pytest.mark.timeout(180)
def test_outage_is_503_with_retry_after_and_the_service_recovers(
    private_pg: PrivateCluster, tmp_path: Path
) -> None:
    server = _server(private_pg, tmp_path)
    try:
        with server.client() as client:  # one keep-alive connection for the whole test
            login(client, "admin", ADMIN_PASSWORD)
            assert client.get("/api/history").status_code == 200

            private_pg.stop()
            for path in ("/api/history", "/api/users/me", "/api/users", "/api/admin/audit"):
                r = client.get(path)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.headers["retry-after"].isdigit() and int(r.headers["retry-after"]) > 0
                assert "database" in r.json()["detail"] and "Traceback" not in r.text
                assert r.headers["cache-control"] == "no-store"
            health = client.get("/api/health")
            assert health.status_code == 503 and health.json()["database_state"] == "down"
            # a sign-in during the outage is a 503 too, never a 500 or a wrong "bad password"
            assert client.post("/api/token", data={"username": "admin", "password": "x"}).status_code == 503

            private_pg.start()
            deadline = time.monotonic() + 20
            while (r := client.get("/api/history")).status_code != 200 and time.monotonic() < deadline:
                assert r.status_code == 503, r.text
                time.sleep(0.2)
            assert r.status_code == 200, r.text
            assert client.get("/api/health").json()["database_state"] == "ok"
            token = client.headers["Authorization"]

        # A genuine bug (a missing table) is a 500 with a request id, and the keep-alive connection stays
        # usable for the next request (the old error path dropped it under the client).
        execute(server.database_url, "DROP TABLE audit_log")
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            reader = sock.makefile("rb")
            first = _exchange(sock, reader, "/api/admin/audit", token)
            second = _exchange(sock, reader, "/api/history", token)
        assert first[0] == 500 and b"request id" in first[1], first
        assert second[0] == 200, second
    finally:
        server.stop()


@pytest.mark.timeout(240)
def test_analysis_survives_a_database_outage_without_a_rerun(
    private_pg: PrivateCluster, tmp_path: Path, tcp_capture: Path
) -> None:
    server = _server(private_pg, tmp_path)
    worker: WorkerProcess | None = None
    try:
        admin = server.client()
        login(admin, "admin", ADMIN_PASSWORD)
        user = register_and_approve(server, admin, "outage")
        task_id = upload(user, tcp_capture).json()["task_id"]
        worker = WorkerProcess(server._env, tmp_path / "worker.log")
        url = server.database_url
        deadline = time.monotonic() + 90
        while query(url, "SELECT attempts FROM tasks WHERE task_id = :t", t=task_id)[0]["attempts"] == 0:
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.05)

        private_pg.stop()  # longer than the 3 s lease: heartbeats, progress and completion must wait
        time.sleep(6)
        private_pg.start()

        deadline = time.monotonic() + 90
        while True:
            try:
                body = user.get(f"/api/status/{task_id}").json()
            except httpx.HTTPError:
                body = {}
            if body.get("status") in ("completed", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert body.get("status") == "completed", (body, worker.log())
        assert body["attempts"] == 1  # no re-run: the attempt kept its task through the outage
        assert body["total_packets"] == CAPTURE_PACKETS
        assert user.get(f"/api/reports/{task_id}/json").json()["capture"]["packets"] == CAPTURE_PACKETS
        assert "database unavailable" in worker.log()  # the outage did happen under the worker
    finally:
        if worker is not None:
            worker.stop()
        server.stop()
