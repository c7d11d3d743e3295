"""/metrics and structured logs of a real server (JSON logs at DEBUG level, a METRICS_TOKEN).

A separate `pcap-analyzer worker` process runs the analyses (WORKER_ENABLED=false in the server); both
share PROMETHEUS_MULTIPROC_DIR, so the analyses the worker finished must show in the server's /metrics.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.tokens import COOKIE_NAME
from tests.app.e2e.server import (
    ADMIN_PASSWORD,
    ROOT,
    LiveServer,
    free_port,
    login,
    register_and_approve,
    upload,
    wait_status,
)

SAMPLE = ROOT / "samples" / "demo.pcap"
METRICS_TOKEN = "scraper-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def observed(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("observed")
    multiproc = folder / "prom"
    multiproc.mkdir()
    extra = {
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
        "METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "WORKER_ENABLED": "false",
        "TASK_LEASE_SECONDS": "3",
    }
    live = LiveServer(database_url, folder / "data", extra_env=extra)
    live.start()
    worker_log = open(folder / "worker.log", "wb")
    env = dict(live._env)
    live.worker_metrics_port = free_port()  # type: ignore[attr-defined]
    env["WORKER_METRICS_PORT"] = str(live.worker_metrics_port)  # type: ignore[attr-defined]
    worker = subprocess.Popen(
        [sys.executable, "-c", "from app.cli import main; main()", "worker", "--concurrency", "1"],
        env=env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    live.worker_log_path = folder / "worker.log"  # type: ignore[attr-defined]
    try:
        live.create_admin()
        yield live
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        worker_log.close()
        live.stop()


def scrape(client: httpx.Client, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_not_public(observed: LiveServer) -> None:
    with observed.client() as anonymous:
        assert anonymous.get("/metrics").status_code == 401
        wrong = anonymous.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401
        assert (
            anonymous.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
        )
    with observed.client() as admin:
        login(admin, "admin", ADMIN_PASSWORD)
        user = register_and_approve(observed, admin, "plainuser")
        assert user.get("/metrics").status_code == 403
        assert admin.get("/metrics").status_code == 200
        user.close()


def test_metrics_follow_requests_uploads_and_analyses(observed: LiveServer) -> None:
    with observed.client() as admin, observed.client() as scraper:
        login(admin, "admin", ADMIN_PASSWORD)
        auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        before = scrape(scraper, **auth)
        alice = register_and_approve(observed, admin, "alice")
        accepted = upload(alice, SAMPLE)
        assert accepted.status_code == 202, accepted.text
        task_id = accepted.json()["task_id"]
        wait_status(alice, task_id, {"completed"})
        for _ in range(3):
            assert alice.get(f"/api/status/{task_id}").status_code == 200
        assert alice.get("/api/status/00000000-0000-0000-0000-000000000000").status_code == 404
        after = scrape(scraper, **auth)
        alice.close()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    status_route = {"method": "GET", "route": "/api/status/{task_id}"}
    assert delta("pcap_http_requests_total", **status_route, status="200") >= 4  # + wait_status polls
    assert delta("pcap_http_requests_total", **status_route, status="404") == 1
    assert delta("pcap_http_request_duration_seconds_count", **status_route) >= 5
    assert delta("pcap_http_requests_total", method="POST", route="/api/upload", status="202") == 1
    assert delta("pcap_uploads_total") == 1
    assert delta("pcap_upload_bytes_total") == SAMPLE.stat().st_size
    # Recorded by the separate worker process, seen through the server (multiprocess mode).
    assert delta("pcap_analyses_finished_total", outcome="completed") == 1
    assert delta("pcap_analysis_duration_seconds_count") == 1
    assert delta("pcap_analysis_packets_per_second_count") == 1
    # Read from the database at scrape time.
    with observed.client() as admin:
        login(admin, "admin", ADMIN_PASSWORD)
        total = admin.get("/api/history").json()["total"]
    assert value(after, "pcap_tasks", status="completed") == total
    assert value(after, "pcap_tasks", status="pending") == 0
    assert ("pcap_workers_busy", ()) in after


def _json_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_json_logs_carry_context_and_never_secrets(observed: LiveServer) -> None:
    password, new_password = "logged-out-password-1", "another-secret-pass-2"
    with observed.client() as admin, observed.client() as bob, observed.client() as browser:
        login(admin, "admin", ADMIN_PASSWORD)
        r = bob.post(
            "/api/register", json={"username": "bob", "email": "bob@example.org", "password": password}
        )
        assert r.status_code == 201
        bob_id = r.json()["id"]
        assert admin.put(f"/api/admin/users/{bob_id}/approve").status_code == 200
        token = login(bob, "bob", password)["access_token"]
        r = bob.get("/api/users/me", headers={"X-Request-ID": "trace-0123456789"})
        assert r.headers["X-Request-ID"] == "trace-0123456789"
        generated = bob.get("/api/history").headers["X-Request-ID"]
        assert len(generated) >= 16
        changed = bob.put("/api/users/me", json={"current_password": password, "new_password": new_password})
        assert changed.status_code == 200, changed.text
        refused = bob.post("/api/token", data={"username": "bob", "password": password})
        assert refused.status_code == 401
        session = browser.post("/api/session", data={"username": "bob", "password": new_password})
        assert session.status_code == 200
        cookie, csrf = browser.cookies.get(COOKIE_NAME) or "", session.json()["csrf_token"]
        assert browser.get("/api/history", headers={"X-CSRF-Token": csrf}).status_code == 200
        renewed = login(bob, "bob", new_password)["access_token"]  # the password change revoked `token`
        accepted = upload(bob, SAMPLE)
        task_id = accepted.json()["task_id"]
        wait_status(bob, task_id, {"completed", "failed"})
    time.sleep(0.5)
    server_log = observed.log_path.read_text(errors="replace") if observed.log_path else ""
    worker_log = observed.worker_log_path.read_text(errors="replace")  # type: ignore[attr-defined]
    for secret in (password, new_password, token, renewed, csrf, cookie, ADMIN_PASSWORD, METRICS_TOKEN):
        assert secret and secret not in server_log and secret not in worker_log

    lines = _json_lines(observed.log_path)  # type: ignore[arg-type]
    requests = [line for line in lines if line["logger"] == "app.request"]
    traced = [line for line in requests if line["request_id"] == "trace-0123456789"]
    assert len(traced) == 1
    assert (
        traced[0]["user_id"] == bob_id
        and traced[0]["route"] == "/api/users/me"
        and traced[0]["status"] == 200
    )
    assert any(line["request_id"] == generated and line["user_id"] == bob_id for line in requests)
    statuses = [line for line in requests if line.get("task_id") == task_id]
    assert statuses and all(line["route"] == "/api/status/{task_id}" for line in statuses)
    for line in lines:
        assert set(line) >= {"timestamp", "level", "logger", "message", "request_id", "user_id", "task_id"}
    worker_lines = _json_lines(observed.worker_log_path)  # type: ignore[attr-defined]
    assert any(line["task_id"] == task_id and line["logger"] == "app.worker" for line in worker_lines)


def test_a_worker_serves_metrics_on_its_own_port(observed: LiveServer) -> None:
    """WORKER_METRICS_PORT: a worker on another machine can be scraped directly."""
    port = observed.worker_metrics_port  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while True:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    assert r.status_code == 200
    names = {f.name for f in text_string_to_metric_families(r.text)}
    assert "pcap_analyses_finished" in names
