"""Issue 12.2/12.3 in the browser: the live progress survives a worker crash and a database outage.

Headless Chromium follows an analysis on /tasks/<id> while: worker A is killed (SIGKILL) mid-analysis;
worker B retries it (attempt 2 of 3, its engine frozen with SIGSTOP so the state can be watched); the
private PostgreSQL cluster is stopped (the stream breaks, the API answers 503) and started again; then
the engine resumes. The page must say "retrying (attempt 2 of 3)", show that it is reconnecting, never move
its bar backwards, and end with "Completed".
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from app.db.migrate import upgrade_to_head
from tests.app.e2e.server import ADMIN_PASSWORD, LiveServer, login, register_and_approve, upload
from tests.app.faults.conftest import WorkerProcess
from tests.app.faults.dbcheck import query
from tests.app.faults.pgcluster import PrivateCluster
from tests.browser import launch_chromium

pytestmark = pytest.mark.browser
FAST_LEASE = {"TASK_LEASE_SECONDS": "3", "TASK_HEARTBEAT_SECONDS": "1", "WORKER_ENABLED": "false"}


def _engine_child(worker: WorkerProcess, timeout: float = 60) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(worker.pid).children(recursive=True):
            if "app.worker.runner" in " ".join(child.cmdline()):
                return child
        time.sleep(0.02)
    raise AssertionError("no engine process appeared: " + worker.log())


@pytest.mark.timeout(300)
def test_progress_page_reconnects_and_shows_the_retry(
    private_pg: PrivateCluster, tmp_path: Path, tcp_capture: Path
) -> None:
    url = private_pg.create_database("app")
    upgrade_to_head(url)
    server = LiveServer(url, tmp_path / "data", extra_env=FAST_LEASE)
    server.start()
    workers: list[WorkerProcess] = []
    try:
        server.create_admin()
        admin = server.client()
        login(admin, "admin", ADMIN_PASSWORD)
        register_and_approve(server, admin, "watcher").close()
        api = server.client()
        login(api, "watcher", "watcher-long-password-1")
        task_id = upload(api, tcp_capture).json()["task_id"]

        with launch_chromium() as browser:
            page = browser.new_page(base_url=server.url)
            page.goto("/login")
            page.fill("#username", "watcher")
            page.fill("#password", "watcher-long-password-1")
            page.click("#login-form button[type=submit]")
            page.wait_for_url("**/upload")
            page.goto(f"/tasks/{task_id}")
            bars: list[float] = []

            def text() -> str:
                bars.append(float(page.eval_on_selector("#analysis-progress", "p => p.value")))
                return str(page.inner_text("#analysis-text"))

            def wait_text(needle: str, timeout: float) -> None:
                deadline = time.monotonic() + timeout
                while needle not in (seen := text()):
                    assert time.monotonic() < deadline, f"page never said {needle!r}; last: {seen!r}"
                    time.sleep(0.1)

            a = WorkerProcess(server._env, tmp_path / "worker-a.log")
            workers.append(a)
            child_a = _engine_child(a)
            os.kill(a.pid, signal.SIGKILL)  # the worker dies mid-analysis (its engine goes with it)
            child_a.kill()

            b = WorkerProcess(server._env, tmp_path / "worker-b.log")
            workers.append(b)
            child_b = _engine_child(b, timeout=90)
            child_b.suspend()  # hold attempt 2 still while we look
            wait_text("retrying (attempt 2 of 3)", 30)

            private_pg.stop()
            wait_text("reconnecting", 30)
            time.sleep(3)
            private_pg.start()
            child_b.resume()
            wait_text("Completed", 120)
            row = query(
                url, "SELECT status, attempts, completed_attempt FROM tasks WHERE task_id = :t", t=task_id
            )
            assert row == [{"status": "completed", "attempts": 2, "completed_attempt": 2}]
            assert bars == sorted(bars), "the progress bar moved backwards"
            page.close()
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.stop()
        server.stop()
