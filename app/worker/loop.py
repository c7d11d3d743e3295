"""The worker: claim a task → run the engine in a child process → record the outcome; N slots in parallel."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from app.logging import task_id_var
from app.metrics import observe_analysis, observe_heartbeat
from app.services.progress import ProgressStore
from app.services.storage import ensure_dirs, remove_files, report_paths
from app.services.task_database import ClaimedTask, TaskDatabase

log = logging.getLogger("app.worker")

SNAPSHOT_INTERVAL_S = 2.0  # a snapshot at least this often while running, plus one per phase change
_PHASE_PERCENT = {
    "reading": (0.0, 90.0),
    "analyzing": (90.0, 95.0),
    "reporting": (95.0, 99.0),
    "done": (99.0, 99.0),
}


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class _Progress:
    phase: str = "starting"
    percent: float = 0.0
    packets: int = 0
    written_at: float = 0.0
    written_phase: str | None = None
    outcome: dict[str, object] = field(default_factory=dict)

    def update(self, event: dict[str, object]) -> None:
        self.phase = str(event.get("phase", self.phase))
        lo, hi = _PHASE_PERCENT.get(self.phase, (0.0, 99.0))
        done, total = float(event.get("bytes_done", 0) or 0), float(event.get("bytes_total", 0) or 0)
        fraction = min(1.0, done / total) if total > 0 else 0.0
        self.percent = max(self.percent, lo + (hi - lo) * fraction)
        self.packets = int(event.get("packets", self.packets) or 0)


def _describe_exit(returncode: int, stderr_tail: str) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        hint = " (killed, possibly out of memory)" if -returncode == signal.SIGKILL else ""
        return f"the analysis process was stopped by signal {name}{hint}"
    last = stderr_tail.strip().splitlines()[-1:] or ["no error output"]
    return f"the analysis process crashed (exit status {returncode}): {last[0][:500]}"


class Worker:
    """Runs analyses from the tasks table until `stop` is set."""

    def __init__(
        self,
        tasks: TaskDatabase,
        progress: ProgressStore,
        *,
        data_dir: Path,
        concurrency: int = 1,
        lease_seconds: float = 60.0,
        poll_interval: float = 1.0,
        worker_id: str | None = None,
    ) -> None:
        self.tasks, self.progress, self.data_dir = tasks, progress, data_dir
        self.concurrency = max(1, concurrency)
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.worker_id = worker_id or default_worker_id()
        self.last_tick = time.monotonic()
        self._last_reap = 0.0
        self.children: dict[str, int] = {}  # task id -> pid of the engine process running it

    def alive(self, within_s: float = 30.0) -> bool:
        """True when a slot polled the queue recently."""
        return time.monotonic() - self.last_tick < within_s

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run tasks with `concurrency` slots until `stop` is set."""
        ensure_dirs(self.data_dir)
        log.info("worker %s started with %d slot(s)", self.worker_id, self.concurrency)
        await asyncio.gather(*(self._slot(stop) for _ in range(self.concurrency)))

    async def _slot(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.last_tick = time.monotonic()
            claimed = None
            try:
                if time.monotonic() - self._last_reap > self.lease_seconds / 2:
                    self._last_reap = time.monotonic()
                    await self.tasks.fail_exhausted_leases()
                claimed = await self.tasks.claim_next(self.worker_id, self.lease_seconds)
                if claimed is not None:
                    await self.process(claimed, stop)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly away: log, wait, go on
                log.exception("worker slot error (task %s)", claimed.task_id if claimed else "-")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.poll_interval)

    async def process(self, task: ClaimedTask, stop: asyncio.Event) -> None:
        """Run one claimed task to its end and record the outcome."""
        json_path, html_path = report_paths(self.data_dir, task.task_id)
        task_id_var.set(task.task_id)  # log context of this slot
        began = time.monotonic()
        log.info("task %s: attempt %d/%d", task.task_id, task.attempts, task.max_attempts)
        await self.progress.record(task.task_id, phase="starting", percent=0.0, packets=0)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.worker.runner",
            task.file_path,
            str(json_path),
            str(html_path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self.children[task.task_id] = proc.pid
        state = _Progress()
        stderr_tail: list[str] = []
        lost = asyncio.Event()
        try:
            await asyncio.gather(
                self._read_events(task, proc, state),
                self._collect_stderr(proc, stderr_tail),
                self._keep_lease(task, proc, state, lost, stop),
            )
            returncode = await proc.wait()
        finally:
            self.children.pop(task.task_id, None)
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if lost.is_set():
            log.warning("task %s: lease lost (deleted or taken over); result dropped", task.task_id)
            remove_files(json_path, html_path)
            return
        await self._finish(task, returncode, state, "".join(stderr_tail), json_path, html_path)
        completed = returncode == 0 and state.outcome.get("event") == "result"
        observe_analysis(
            completed, time.monotonic() - began, int(state.outcome.get("total_packets") or state.packets)
        )

    async def _finish(
        self,
        task: ClaimedTask,
        returncode: int,
        state: _Progress,
        stderr: str,
        json_path: Path,
        html_path: Path,
    ) -> None:
        outcome = state.outcome
        if returncode == 0 and outcome.get("event") == "result":
            await self.progress.record(task.task_id, phase="done", percent=100.0, packets=state.packets)
            ok = await self.tasks.complete(
                task.task_id,
                self.worker_id,
                total_packets=outcome.get("total_packets"),  # type: ignore[arg-type]
                health_score=outcome.get("health_score"),
                warning=outcome.get("warning"),  # type: ignore[arg-type]
                json_path=str(json_path),
                html_path=str(html_path),
            )
            if not ok:
                remove_files(json_path, html_path)
            return
        if outcome.get("event") == "error":
            reason = f"not an analysable capture: {outcome.get('message')}"
        else:
            reason = _describe_exit(returncode, stderr)
        log.warning("task %s failed: %s", task.task_id, reason)
        remove_files(json_path, html_path)
        await self.tasks.fail(task.task_id, self.worker_id, reason)

    async def _read_events(
        self, task: ClaimedTask, proc: asyncio.subprocess.Process, state: _Progress
    ) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if event.get("event") == "progress":
                state.update(event)
                if state.phase != state.written_phase or time.monotonic() - state.written_at >= 1.0:
                    await self._snapshot(task, state)
            elif event.get("event") in ("result", "error"):
                state.outcome = event

    async def _snapshot(self, task: ClaimedTask, state: _Progress) -> None:
        state.written_at, state.written_phase = time.monotonic(), state.phase
        await self.progress.record(
            task.task_id, phase=state.phase, percent=state.percent, packets=state.packets
        )

    @staticmethod
    async def _collect_stderr(proc: asyncio.subprocess.Process, tail: list[str]) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            tail.append(raw.decode("utf-8", "replace"))
            del tail[:-20]

    async def _keep_lease(
        self,
        task: ClaimedTask,
        proc: asyncio.subprocess.Process,
        state: _Progress,
        lost: asyncio.Event,
        stop: asyncio.Event,
    ) -> None:
        """Heartbeat the lease and write a snapshot at least every 2 s until the child exits."""
        beat_every = max(1.0, self.lease_seconds / 3)
        last_beat = time.monotonic()
        while proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=0.5)
            if proc.returncode is not None:
                return
            now = self.last_tick = time.monotonic()  # a busy worker is alive too
            if stop.is_set():
                proc.kill()  # the lease will expire and another worker retries the task
                lost.set()
                return
            if now - state.written_at >= SNAPSHOT_INTERVAL_S:
                await self._snapshot(task, state)
            if now - last_beat >= beat_every:
                last_beat = now
                renewed = await self.tasks.heartbeat(task.task_id, self.worker_id, self.lease_seconds)
                observe_heartbeat(renewed)
                if not renewed:
                    proc.kill()
                    lost.set()
                    return
