"""`pcap-analyzer worker` in its own process: the web process only queues, progress streams from the DB."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.app.e2e.server import (
    ADMIN_PASSWORD,
    ROOT,
    LiveServer,
    login,
    register_and_approve,
    sse_events,
    upload,
)


def test_standalone_worker_runs_queued_tasks(
    fresh_database_url: str, tmp_path: Path, corpus_dir: Path
) -> None:
    server = LiveServer(fresh_database_url, tmp_path / "data", extra_env={"WORKER_ENABLED": "false"})
    server.start()
    worker: subprocess.Popen[bytes] | None = None
    try:
        server.create_admin()
        admin = server.client()
        login(admin, "admin", ADMIN_PASSWORD)
        assert admin.get("/api/health").json()["worker"] == "external"
        user = register_and_approve(server, admin, "remote")
        task_id = upload(user, corpus_dir / "netns_mixed_nsec.pcap").json()["task_id"]
        time.sleep(1.5)
        assert user.get(f"/api/status/{task_id}").json()["status"] == "pending"  # nobody analyses here
        assert admin.get("/api/health").json()["queue_depth"] == 1

        log = open(tmp_path / "worker.log", "wb")
        worker = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "worker", "--concurrency", "1"],
            env=server._env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        events = list(sse_events(user, task_id))
        assert [n for n, _ in events].count("progress") >= 1
        final = json.loads(events[-1][1])
        assert final["status"] == "completed", (final, (tmp_path / "worker.log").read_text()[-3000:])
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        logged = (tmp_path / "worker.log").read_text()
        assert f"task {task_id}: completed (" in logged and " stopped" in logged.splitlines()[-1], logged
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        server.stop()
