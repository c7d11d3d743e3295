"""Scale-out scenario shared by the process test and the Docker test: one web service that does not analyse,
several standalone workers (host processes and/or containers) on the same PostgreSQL database and DATA_DIR,
20 uploads, one worker killed with SIGKILL in the middle of an analysis.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.app.e2e.server import ADMIN_PASSWORD, ROOT, LiveServer, login, register_and_approve, upload
from tests.engine.builders import Rec, write_pcap

UPLOADS = 20
# Short lease and heartbeat so the test does not wait for the production defaults.
LEASE_ENV = {"TASK_LEASE_SECONDS": "6", "TASK_HEARTBEAT_SECONDS": "2", "TASK_MAX_ATTEMPTS": "3"}


def udp_capture(path: Path, packets: int, seed: int) -> Path:
    """A classic pcap of `packets` Ethernet/IPv4/UDP frames over 64 flows (the count is the truth)."""
    frames = []
    for flow in range(64):
        payload = bytes(32)
        udp = struct.pack(">HHHH", 20000 + flow, 53, 8 + len(payload), 0) + payload
        ip = struct.pack(
            ">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), flow, 0, 64, 17, 0, bytes([10, 0, seed, 1]),
            bytes([10, 1, flow, 2]),
        )  # fmt: skip
        frames.append(bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]) + b"\x08\x00" + ip + udp)
    start_ns = 1_700_000_000_000_000_000
    return write_pcap(path, (Rec(start_ns + i * 10_000, frames[i % 64]) for i in range(packets)))


@contextlib.contextmanager
def shared_umask() -> Iterator[None]:
    """Processes started inside create group/world-writable files, so that workers running as another user
    (the image's non-root user) share DATA_DIR with them, as workers sharing a volume do."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@dataclass
class Worker:
    """A running worker: `worker_id()` reads the id it logs at start, `kill()` sends SIGKILL to all of it."""

    name: str
    log: Callable[[], str]
    kill: Callable[[], None]
    stop: Callable[[], None]

    def worker_id(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"worker (\S+) started with", self.log())
            if found:
                return found.group(1)
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not start:\n{self.log()[-3000:]}")


def host_worker(server: LiveServer, log_path: Path) -> Worker:
    """`pcap-analyzer worker --concurrency 1` as a host process (own process group: kill takes its child)."""
    with open(log_path, "wb") as out, shared_umask():
        proc = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "worker", "--concurrency", "1"],
            env=dict(server._env),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill() -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop() -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kill()

    return Worker(f"host worker {proc.pid}", lambda: log_path.read_text(errors="replace"), kill, stop)


def _query(database_url: str, sql: str) -> list[dict[str, Any]]:
    import asyncpg

    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(database_url)
        try:
            return [dict(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(run())


@dataclass
class ScaleOutResult:
    retry_delay_s: float
    wall_s: float
    workers_used: set[str] = field(default_factory=set)


def _kill_when_analysing(database_url: str, victim: Worker, victim_id: str, out: dict[str, Any]) -> None:
    """Poll until `victim` analyses a task (its engine reported the reading phase), then SIGKILL it; sets
    out["task"] and out["at"], or leaves `out` empty after two minutes."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = _query(
            database_url,
            "SELECT t.task_id FROM tasks t JOIN progress_snapshots p ON p.task_id = t.task_id "
            f"WHERE t.status = 'processing' AND t.worker_id = '{victim_id}' AND p.phase = 'reading' LIMIT 1",
        )
        if rows:
            out["at"] = datetime.now(UTC)
            victim.kill()
            out["task"] = rows[0]["task_id"]
            return
        time.sleep(0.02)


def run_scale_out(
    server: LiveServer, database_url: str, workers: list[Worker], captures: list[tuple[Path, int]]
) -> ScaleOutResult:
    """Upload the captures, SIGKILL workers[0] mid-analysis, check every task ran to completion exactly
    once (the killed one twice: attempts 2) with the right packet count, by more than one worker."""
    started = time.monotonic()
    ids = {w.name: w.worker_id() for w in workers}
    server.create_admin()
    admin = server.client()
    login(admin, "admin", ADMIN_PASSWORD)
    assert admin.get("/api/health").json()["worker"] == "external"
    user = register_and_approve(server, admin, "scaleout")

    # The victim's first task: as soon as its engine process reports progress, kill everything of it. The
    # watch starts before the uploads: the victim starts analysing while later captures are still uploading,
    # and an analysis can end before the uploads do.
    victim = workers[0]
    victim_id = ids[victim.name]
    kill: dict[str, Any] = {}
    watch = threading.Thread(target=_kill_when_analysing, args=(database_url, victim, victim_id, kill))
    watch.start()
    expected: dict[str, int] = {}
    try:
        for path, packets in captures:
            r = upload(user, path)
            assert r.status_code in (200, 201, 202), r.text
            expected[r.json()["task_id"]] = packets
    finally:
        watch.join()
    assert "task" in kill, f"{victim.name} never ran a task:\n{victim.log()[-3000:]}"
    victim_task, killed_at = kill["task"], kill["at"]
    status = user.get(f"/api/status/{victim_task}").json()
    assert status["status"] == "processing", status  # the kill interrupted it

    deadline = time.monotonic() + 300
    while True:
        rows = _query(database_url, "SELECT task_id, status, attempts, worker_id, started_at FROM tasks")
        if all(r["status"] in ("completed", "failed") for r in rows) and len(rows) == len(expected):
            break
        assert time.monotonic() < deadline, f"tasks not finished: {rows}"
        time.sleep(0.5)
    by_id = {r["task_id"]: r for r in rows}
    assert set(by_id) == set(expected)
    retried = by_id[victim_task]
    assert retried["status"] == "completed", retried
    assert retried["attempts"] == 2, retried
    assert retried["worker_id"] != victim_id, retried
    for task_id, row in by_id.items():
        assert row["status"] == "completed", row
        if task_id != victim_task:
            assert row["attempts"] == 1, row  # nobody ran it twice
        report = user.get(f"/api/reports/{task_id}/json")
        assert report.status_code == 200, report.text[:300]
        assert report.json()["capture"]["packets"] == expected[task_id], task_id
    survivors = {ids[w.name] for w in workers[1:]}
    used = {r["worker_id"] for r in rows}
    assert used <= survivors | {victim_id}, used
    assert len(used & survivors) == len(survivors), f"every surviving worker should take tasks: {used}"
    restarted = retried["started_at"]
    restarted = restarted.replace(tzinfo=UTC) if restarted.tzinfo is None else restarted
    retry_delay = (restarted - killed_at).total_seconds()
    return ScaleOutResult(retry_delay, time.monotonic() - started, used)
