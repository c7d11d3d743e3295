"""Workers scale out and survive crashes, with real processes on the real PostgreSQL: one `serve` that does
not analyse, two `pcap-analyzer worker` processes on the same database and DATA_DIR, 20 uploads; one worker
(with its engine process) is killed with SIGKILL mid-analysis and another one finishes its task.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.e2e.server import LiveServer
from tests.deploy.scale import LEASE_ENV, Worker, host_worker, run_scale_out, shared_umask


@pytest.mark.postgres
def test_two_worker_processes_share_the_queue_and_survive_a_sigkill(
    postgres_url: str, tmp_path: Path, scale_captures: list[tuple[Path, int]]
) -> None:
    server = LiveServer(
        postgres_url,
        tmp_path / "data",
        extra_env={"WORKER_ENABLED": "false", "MAX_PENDING_TASKS_PER_USER": "50", **LEASE_ENV},
    )
    with shared_umask():
        server.start()
    workers: list[Worker] = []
    try:
        workers = [host_worker(server, tmp_path / f"worker-{i}.log") for i in range(2)]
        result = run_scale_out(server, postgres_url, workers, scale_captures)
        lease = float(LEASE_ENV["TASK_LEASE_SECONDS"])
        # Retried once the lease ran out, plus at most a poll interval and a heartbeat's slack.
        assert 0 < result.retry_delay_s < lease + 5, result
        print(
            f"\nscale-out: {len(scale_captures)} tasks in {result.wall_s:.1f} s; "
            f"retry {result.retry_delay_s:.1f} s after SIGKILL (lease {lease:.0f} s)"
        )
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
