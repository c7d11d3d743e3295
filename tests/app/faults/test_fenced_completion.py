"""Issue 12.1: a worker paused past its lease can neither overwrite, delete nor change a finished task.

Real processes on PostgreSQL: worker A claims the task and is frozen with SIGSTOP; its lease (3 s) runs
out; worker B retakes the task (attempt 2) and completes it; A is resumed with SIGCONT. The reports of
attempt 2 must stay intact and served, the row must keep naming attempt 2, and A must add no progress.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.app.e2e.server import ADMIN_PASSWORD, LiveServer, login, register_and_approve, upload
from tests.app.faults.conftest import CAPTURE_PACKETS, WorkerProcess
from tests.app.faults.dbcheck import query

FAST_LEASE = {"TASK_LEASE_SECONDS": "3", "TASK_HEARTBEAT_SECONDS": "1", "WORKER_ENABLED": "false"}


def _row(url: str, task_id: str) -> dict[str, object]:
    return query(url, "SELECT * FROM tasks WHERE task_id = :t", t=task_id)[0]


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(240)
def test_stale_attempt_cannot_touch_the_completed_task(
    pg_url: str, tmp_path: Path, tcp_capture: Path
) -> None:
    server = LiveServer(pg_url, tmp_path / "data", extra_env=FAST_LEASE)
    server.start()
    workers: list[WorkerProcess] = []
    try:
        server.create_admin()
        admin = server.client()
        login(admin, "admin", ADMIN_PASSWORD)
        user = register_and_approve(server, admin, "fenced")
        task_id = upload(user, tcp_capture).json()["task_id"]

        a = WorkerProcess(server._env, tmp_path / "worker-a.log")
        workers.append(a)
        _wait(lambda: _row(pg_url, task_id)["attempts"] == 1, 90, "worker A to claim the task")
        os.kill(a.pid, signal.SIGSTOP)
        first = _row(pg_url, task_id)
        assert first["status"] == "processing" and str(first["worker_id"]).split(":")[1] == str(a.pid)

        time.sleep(4)  # past the 3 s lease
        b = WorkerProcess(server._env, tmp_path / "worker-b.log")
        workers.append(b)
        _wait(lambda: _row(pg_url, task_id)["status"] == "completed", 120, "worker B to complete the task")
        done = _row(pg_url, task_id)
        assert done["attempts"] == 2 and done["completed_attempt"] == 2, b.log()
        reports = tmp_path / "data" / "reports" / task_id
        assert done["report_json_path"] == str(reports / "2.json")
        before = {p.name: p.read_bytes() for p in reports.glob("2.*")}
        assert set(before) == {"2.json", "2.html"}
        resumed_at = query(pg_url, "SELECT now() AS t")[0]["t"]

        os.kill(a.pid, signal.SIGCONT)  # the stale attempt wakes up with a finished (or running) child
        _wait(lambda: "attempt 1" in a.log() and "dropped" in a.log(), 60, "worker A to notice " + a.log())
        time.sleep(1)

        after = _row(pg_url, task_id)
        assert (after["status"], after["completed_attempt"], after["report_json_path"]) == (
            "completed",
            2,
            str(reports / "2.json"),
        )
        assert after["total_packets"] == CAPTURE_PACKETS
        assert {p.name: p.read_bytes() for p in reports.glob("2.*")} == before  # not overwritten
        assert not list(reports.glob("1.*"))  # A removed only its own attempt's files
        late = query(
            pg_url,
            "SELECT count(*) AS n FROM progress_snapshots"
            " WHERE task_id = :t AND attempt = 1 AND created_at > :at",
            t=task_id,
            at=resumed_at,
        )
        assert late[0]["n"] == 0  # no progress from the stale attempt
        r = user.get(f"/api/reports/{task_id}/json")
        assert r.status_code == 200 and r.json()["capture"]["packets"] == CAPTURE_PACKETS
        assert user.get(f"/api/reports/{task_id}/html").status_code == 200
        assert user.get(f"/api/status/{task_id}").json()["status"] == "completed"
    finally:
        for w in workers:
            w.stop()
        server.stop()
