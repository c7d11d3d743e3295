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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from app.db.notify import listen_for_tasks
from app.db.outage import is_unavailable
from app.logging import task_id_var
from app.metrics import observe_analysis, observe_heartbeat
from app.services.progress import ProgressStore
from app.services.storage import ensure_dirs, remove_files, report_paths
from app.services.task_database import ClaimedTask, TaskDatabase

if TYPE_CHECKING:
    from app.config import Settings

log = logging.getLogger("app.worker")

SNAPSHOT_INTERVAL_S = 2.0  # a snapshot at least this often while running, plus one per phase change
SNAPSHOT_MIN_INTERVAL_S = 1.0  # and never more often than this within a phase
FINAL_WRITE_BUDGET_S = 600.0  # how long the outcome of a finished analysis waits for the database
_RETRY_FIRST_S, _RETRY_MAX_S = 0.2, 2.0
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
    changed: bool = False
    outcome: dict[str, object] = field(default_factory=dict)
    limit_exceeded: str | None = None  # why the worker stopped the analysis (time or memory limit)

    def update(self, event: dict[str, object]) -> None:
        self.phase = str(event.get("phase", self.phase))
        lo, hi = _PHASE_PERCENT.get(self.phase, (0.0, 99.0))
        done, total = float(event.get("bytes_done", 0) or 0), float(event.get("bytes_total", 0) or 0)
        fraction = min(1.0, done / total) if total > 0 else 0.0
        self.percent = max(self.percent, lo + (hi - lo) * fraction)
        self.packets = int(event.get("packets", self.packets) or 0)
        self.changed = True


def _describe_exit(returncode: int, stderr_tail: str) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        hint = " (killed, possibly out of memory)" if -returncode == signal.SIGKILL else ""
        return f"the analysis process was stopped by signal {name}{hint}"
    last = stderr_tail.strip().splitlines()[-1:] or ["no error output"]
    return f"the analysis process crashed (exit status {returncode}): {last[0][:500]}"


class LeaseLost(Exception):
    """The attempt no longer holds its task (taken over after its lease expired, deleted, or finished)."""


class Worker:
    """Runs analyses from the tasks table until `stop` is set.

    Every database write of an attempt is a compare-and-set on (task id, attempt number, worker id): an
    attempt that lost its lease (paused, cut off from the database) can neither change the task's status
    nor add progress, and it writes only its own report files (reports/<task-id>/<attempt>.*). Writes that
    fail because the database is briefly away are retried with backoff while the engine keeps running;
    the attempt gives up only when a write answers that the task is no longer its own.
    """

    def __init__(
        self,
        tasks: TaskDatabase,
        progress: ProgressStore | None = None,
        *,
        data_dir: Path,
        concurrency: int = 1,
        lease_seconds: float = 15.0,
        heartbeat_seconds: float | None = None,
        poll_interval: float = 1.0,
        max_analysis_seconds: float | None = None,
        max_analysis_mb: float | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.tasks, self.progress, self.data_dir = tasks, progress, data_dir
        self.concurrency = max(1, concurrency)
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds or max(0.5, lease_seconds / 3)
        self.poll_interval = poll_interval
        self.max_analysis_seconds = max_analysis_seconds
        self.max_analysis_mb = max_analysis_mb
        self.worker_id = worker_id or default_worker_id()
        self.last_tick = time.monotonic()
        self._last_reap = 0.0
        self.wakeup = asyncio.Event()  # set to poll the queue now (a new task was announced)
        self.children: dict[str, int] = {}  # task id -> pid of the engine process running it

    def alive(self, within_s: float = 30.0) -> bool:
        """True when a slot polled the queue recently."""
        return time.monotonic() - self.last_tick < within_s

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run tasks with `concurrency` slots until `stop` is set."""
        ensure_dirs(self.data_dir)
        log.info(
            "worker %s started with %d slot(s), lease %.0f s, heartbeat every %.1f s",
            self.worker_id,
            self.concurrency,
            self.lease_seconds,
            self.heartbeat_seconds,
        )
        listener = asyncio.ensure_future(listen_for_tasks(self.tasks.engine, self.wakeup, stop))
        try:
            await asyncio.gather(*(self._slot(stop) for _ in range(self.concurrency)))
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        log.info("worker %s stopped", self.worker_id)

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
            except Exception as exc:  # the database may be briefly away: log, wait, go on
                if is_unavailable(exc):
                    log.warning("worker: database unavailable (%s); polling again", _brief(exc))
                else:
                    log.exception("worker slot error (task %s)", claimed.task_id if claimed else "-")
            self.wakeup.clear()
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wakeup.wait())]
            await asyncio.wait(waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def _write(
        self, what: str, operation: Callable[[], Awaitable[bool]], budget_s: float
    ) -> bool | None:
        """Run a fenced write, retrying while the database is unavailable for up to `budget_s` seconds.

        True/False: the compare-and-set's answer (False: the task is no longer ours); None: the database
        stayed away for the whole budget.
        """
        deadline = time.monotonic() + budget_s
        delay = _RETRY_FIRST_S
        while True:
            try:
                return await operation()
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                if time.monotonic() + delay > deadline:
                    log.warning("%s: database unavailable (%s); not retrying further", what, _brief(exc))
                    return None
                log.warning("%s: database unavailable (%s); retrying in %.1f s", what, _brief(exc), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)

    async def process(self, task: ClaimedTask, stop: asyncio.Event) -> None:
        """Run one claimed task to its end and record the outcome (only while this attempt holds it)."""
        json_path, html_path = report_paths(self.data_dir, task.task_id, task.attempts)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        task_id_var.set(task.task_id)  # log context of this slot
        began = time.monotonic()
        log.info("task %s: attempt %d/%d", task.task_id, task.attempts, task.max_attempts)
        state = _Progress()
        try:
            await self._snapshot(task, state)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "app.worker.runner",
                task.file_path,
                str(json_path),
                str(html_path),
                *([task.filename] if task.filename else []),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            self.children[task.task_id] = proc.pid
            stderr_tail: list[str] = []
            readers = [
                asyncio.ensure_future(self._read_events(proc, state)),
                asyncio.ensure_future(self._collect_stderr(proc, stderr_tail)),
            ]
            try:
                await self._keep_lease(task, proc, state, stop)
                await asyncio.gather(*readers)
                returncode = await proc.wait()
            finally:
                for reader in readers:
                    reader.cancel()
                self.children.pop(task.task_id, None)
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
            await self._finish(task, returncode, state, "".join(stderr_tail), json_path, html_path)
            completed = (
                state.limit_exceeded is None and returncode == 0 and state.outcome.get("event") == "result"
            )
            packets = int(state.outcome.get("total_packets") or state.packets)  # type: ignore[call-overload]
            observe_analysis(completed, time.monotonic() - began, packets)
        except LeaseLost as exc:
            log.warning("task %s attempt %d: %s; its files are dropped", task.task_id, task.attempts, exc)
            remove_files(json_path, html_path)

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
        what = f"task {task.task_id} attempt {task.attempts}"
        if state.limit_exceeded is None and returncode == 0 and outcome.get("event") == "result":
            state.phase, state.percent = "done", 100.0
            await self._snapshot(task, state)

            async def complete() -> bool:
                return await self.tasks.complete(
                    task,
                    self.worker_id,
                    total_packets=outcome.get("total_packets"),  # type: ignore[arg-type]
                    health_score=outcome.get("health_score"),  # type: ignore[arg-type]
                    warning=outcome.get("warning"),  # type: ignore[arg-type]
                    json_path=str(json_path),
                    html_path=str(html_path),
                )

            ok = await self._write(f"{what}: completion", complete, FINAL_WRITE_BUDGET_S)
            if ok is None:
                raise LeaseLost("the database stayed unreachable, the result could not be recorded")
            if not ok:
                raise LeaseLost("the task was taken over or deleted before the result was recorded")
            log.info(
                "task %s: completed (%s packets, health %s) in attempt %d%s",
                task.task_id,
                outcome.get("total_packets"),
                outcome.get("health_score"),
                task.attempts,
                f" with a warning: {outcome['warning']}" if outcome.get("warning") else "",
            )
            return
        if state.limit_exceeded is not None:
            reason = state.limit_exceeded
        elif outcome.get("event") == "error":
            reason = f"not an analysable capture: {outcome.get('message')}"
        else:
            reason = _describe_exit(returncode, stderr)
        log.warning("%s failed: %s", what, reason)
        remove_files(json_path, html_path)
        ok = await self._write(
            f"{what}: failure", lambda: self.tasks.fail(task, self.worker_id, reason), FINAL_WRITE_BUDGET_S
        )
        if not ok:
            raise LeaseLost("the task was taken over or deleted before the failure was recorded")

    @staticmethod
    async def _read_events(proc: asyncio.subprocess.Process, state: _Progress) -> None:
        """Follow the child's JSON lines (never blocked by the database: writes happen in _keep_lease)."""
        assert proc.stdout is not None
        async for raw in proc.stdout:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if event.get("event") == "progress":
                state.update(event)
            elif event.get("event") in ("result", "error"):
                state.outcome = event

    async def _snapshot(self, task: ClaimedTask, state: _Progress) -> None:
        """One fenced progress write; a database hiccup skips it (the next one catches up)."""
        state.written_at, state.written_phase, state.changed = time.monotonic(), state.phase, False
        try:
            held = await self.tasks.record_progress(
                task, self.worker_id, phase=state.phase, percent=state.percent, packets=state.packets
            )
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            log.warning(
                "task %s: progress not recorded, database unavailable (%s)", task.task_id, _brief(exc)
            )
            return
        if not held:
            raise LeaseLost("the task was taken over or deleted (progress refused)")

    @staticmethod
    async def _collect_stderr(proc: asyncio.subprocess.Process, tail: list[str]) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            tail.append(raw.decode("utf-8", "replace"))
            del tail[:-20]

    def _over_limit(self, proc: asyncio.subprocess.Process, started: float) -> str | None:
        if self.max_analysis_seconds and time.monotonic() - started > self.max_analysis_seconds:
            return f"the analysis exceeded the time limit of {self.max_analysis_seconds:g} s"
        if self.max_analysis_mb:
            try:
                rss = psutil.Process(proc.pid).memory_info().rss
            except psutil.Error:
                return None
            if rss > self.max_analysis_mb * 1024 * 1024:
                return f"the analysis exceeded the memory limit of {self.max_analysis_mb:g} MB"
        return None

    async def _keep_lease(
        self, task: ClaimedTask, proc: asyncio.subprocess.Process, state: _Progress, stop: asyncio.Event
    ) -> None:
        """Until the child exits: heartbeats, progress snapshots, the time and memory limits.

        A heartbeat that fails because the database is away is simply tried again at the next beat; the
        engine keeps running. Only a heartbeat or snapshot that the database refuses (the task is no longer
        this attempt's) stops the child.
        """
        started = last_beat = time.monotonic()
        try:
            while proc.returncode is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), timeout=0.25)
                if proc.returncode is not None:
                    return
                now = self.last_tick = time.monotonic()  # a busy worker is alive too
                if stop.is_set():
                    raise LeaseLost(
                        "the worker is stopping; the lease will expire and another worker retries"
                    )
                state.limit_exceeded = self._over_limit(proc, started)
                if state.limit_exceeded is not None:
                    proc.kill()
                    return
                since = now - state.written_at
                due = state.changed and (
                    state.phase != state.written_phase or since >= SNAPSHOT_MIN_INTERVAL_S
                )
                if due or since >= SNAPSHOT_INTERVAL_S:
                    await self._snapshot(task, state)
                if now - last_beat >= self.heartbeat_seconds:
                    last_beat = now
                    held = await self._write(
                        f"task {task.task_id}: heartbeat",
                        lambda: self.tasks.heartbeat(task, self.worker_id, self.lease_seconds),
                        budget_s=self.heartbeat_seconds,
                    )
                    if held is not None:
                        observe_heartbeat(held)
                    if held is False:
                        raise LeaseLost("the task was taken over or deleted (heartbeat refused)")
        except LeaseLost:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            raise


def worker_from_settings(
    tasks: TaskDatabase, progress: ProgressStore | None, settings: Settings, concurrency: int | None = None
) -> Worker:
    """A Worker configured by the settings (lease, heartbeat, limits), embedded or standalone."""
    if concurrency is None:  # embedded in `serve --workers N`: the slots are shared among the N processes
        processes = int(os.environ.get("PCAP_WEB_PROCESSES", "1") or 1)
        concurrency = max(1, settings.WORKER_CONCURRENCY // max(1, processes))
    return Worker(
        tasks,
        progress,
        data_dir=Path(settings.DATA_DIR),
        concurrency=concurrency,
        lease_seconds=settings.TASK_LEASE_SECONDS,
        heartbeat_seconds=settings.TASK_HEARTBEAT_SECONDS,
        max_analysis_seconds=settings.ANALYSIS_MAX_SECONDS or None,
        max_analysis_mb=settings.ANALYSIS_MAX_MEMORY_MB or None,
    )


def _brief(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
