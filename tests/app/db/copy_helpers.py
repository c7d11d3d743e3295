"""Helpers of the `db copy` tests: bulk-filled SQLite sources, the CLI as a subprocess, peak memory."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from app.db.migrate import upgrade_to_head
from app.db.tables import progress_snapshots, tasks, users
from tests.app.conftest import subprocess_env

CLI = Path(sys.executable).with_name("pcap-analyzer")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bulk_source(path: Path, n_tasks: int, snapshots_per_task: int = 0, pad: int = 0) -> str:
    """An SQLite database at head with one user, `n_tasks` tasks and their progress snapshots.

    Rows are inserted with the schema's own table definitions (the services would take minutes for
    100,000 tasks); `pad` characters of text per task make rows heavy enough to see memory growth.
    """
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    engine = sa.create_engine(url)
    owner = uuid.uuid4()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            users.insert().values(
                id=owner,
                username="bulk",
                email="bulk@example.org",
                hashed_password="x" * 60,
                is_approved=True,
                created_at=start,
                updated_at=start,
            )
        )
        chunk = 5000
        snapshot_id = 0
        for first in range(0, n_tasks, chunk):
            rows, snaps = [], []
            for i in range(first, min(first + chunk, n_tasks)):
                task_id = str(uuid.UUID(int=i + 1))
                at = start + timedelta(seconds=i)
                rows.append(
                    dict(
                        task_id=task_id,
                        filename=f"capture-{i}.pcap",
                        status="completed",
                        file_size=1000 + i,
                        uploaded_at=at,
                        completed_at=at + timedelta(seconds=3),
                        total_packets=i * 7,
                        health_score=(i % 100) + 0.5,
                        report_json_path=f"/data/reports/{task_id}.json",
                        warning_message=("w" * pad) or None,
                        owner_id=owner,
                    )
                )
                for k in range(snapshots_per_task):
                    snapshot_id += 1
                    snaps.append(
                        dict(
                            id=snapshot_id,
                            task_id=task_id,
                            phase="reading",
                            progress_percent=k * 10.0,
                            packets_processed=k,
                            created_at=at,
                        )
                    )
            conn.execute(tasks.insert(), rows)
            if snaps:
                conn.execute(progress_snapshots.insert(), snaps)
    engine.dispose()
    return url


def run_copy(
    source: str, target: str, folder: Path, *args: str, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """`pcap-analyzer db copy --from source --to target ARGS` as the real console script."""
    env = subprocess_env(DATA_DIR=str(folder / "data"), COLUMNS="120")
    return subprocess.run(
        [str(CLI), "db", "copy", "--from", source, "--to", target, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Measured:
    returncode: int
    seconds: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def measure_copy(source: str, target: str, folder: Path, *args: str) -> Measured:
    """Run the copy and measure its wall time and the peak resident memory of that one process."""
    env = subprocess_env(DATA_DIR=str(folder / "data"), COLUMNS="120")
    out, err = folder / "copy.out", folder / "copy.err"
    with open(out, "w") as o, open(err, "w") as e:
        began = time.perf_counter()
        proc = subprocess.Popen(
            [str(CLI), "db", "copy", "--from", source, "--to", target, *args],
            cwd=folder,
            env=env,
            stdout=o,
            stderr=e,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(proc.returncode, seconds, usage.ru_maxrss / 1024, out.read_text(), err.read_text())
