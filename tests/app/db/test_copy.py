"""`pcap-analyzer db copy`: refusals, verification, a copy killed with SIGKILL, streaming memory.

The target is this test's fresh database of each backend (PostgreSQL and SQLite); the source is always
an SQLite file, as in a real migration.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from app.db.copy import COPY_MARKER_TABLE, copy_database, marker, unfinished_copy
from app.db.copy_verify import verify_tables
from app.db.engine import create_engine_for
from app.db.migrate import downgrade_to, upgrade_to_head
from app.db.tables import audit_log, metadata, progress_snapshots, tasks
from app.services.postgres_database import DatabasePool
from tests.app.conftest import subprocess_env
from tests.app.db.copy_helpers import CLI, bulk_source, file_sha256, measure_copy, run_copy


def _rows(**counts: int) -> dict[str, int]:
    """Expected row counts: the tables named here, every other table of the metadata empty."""
    return {t.name: 0 for t in metadata.sorted_tables} | counts


async def _counts(url: str) -> dict[str, int]:
    async with DatabasePool(url) as db:
        return {
            t.name: (await db.fetch_one(f"SELECT COUNT(*) AS n FROM {t.name}"))["n"]
            for t in metadata.sorted_tables
        }


def test_copy_verifies_and_refuses_a_second_run(fresh_database_url: str, tmp_path: Path) -> None:
    source_file = tmp_path / "src.db"
    source = bulk_source(source_file, 300, snapshots_per_task=3)
    before = file_sha256(source_file)

    done = run_copy(source, fresh_database_url, tmp_path, "--batch-size", "64")
    assert done.returncode == 0, done.stderr
    assert f"copied and verified 1201 rows in {len(metadata.sorted_tables)} tables" in done.stdout
    for name, rows in (("users", 1), ("tasks", 300), ("progress_snapshots", 900), ("audit_log", 0)):
        line = next(x for x in done.stdout.splitlines() if f" {name} " in x)
        assert line.split("│")[2].strip() == str(rows) and line.split("│")[3].strip() == str(rows)
        assert "OK" in line
    assert file_sha256(source_file) == before
    counts = asyncio.run(_counts(fresh_database_url))

    again = run_copy(source, fresh_database_url, tmp_path)
    assert again.returncode == 2
    assert "the target database is not empty (users: 1 rows, tasks: 300 rows" in again.stderr
    assert asyncio.run(_counts(fresh_database_url)) == counts

    # The ids are those of the source, and new rows get ids past them (sequences were reset).
    async def insert_new() -> int:
        async with DatabasePool(fresh_database_url) as db:
            await db.execute(
                "INSERT INTO progress_snapshots (task_id, phase, progress_percent, created_at) "
                "VALUES ('00000000-0000-0000-0000-000000000001', 'x', 0, CURRENT_TIMESTAMP)"
            )
            row = await db.fetch_one("SELECT MAX(id) AS m FROM progress_snapshots")
        return int(row["m"])

    assert asyncio.run(insert_new()) == 901


def test_verification_detects_a_changed_row(fresh_database_url: str, tmp_path: Path) -> None:
    source = bulk_source(tmp_path / "src.db", 50)
    result = asyncio.run(copy_database(source, fresh_database_url, batch_size=7))
    assert result.ok and [c.table for c in result.checks] == [t.name for t in metadata.sorted_tables]

    async def tamper_and_verify() -> list[str]:
        target = create_engine_for(fresh_database_url, pooled=False)
        src = create_engine_for(source, pooled=False)
        try:
            async with target.begin() as conn:
                await conn.execute(
                    tasks.update().where(tasks.c.task_id == str(_uuid(17))).values(total_packets=1)
                )
            async with src.connect() as s, target.connect() as t:
                checks = await verify_tables(s, t, metadata.sorted_tables, 10)
        finally:
            await target.dispose()
            await src.dispose()
        return [c.table for c in checks if not c.ok]

    assert asyncio.run(tamper_and_verify()) == ["tasks"]


def _uuid(i: int) -> str:
    import uuid

    return str(uuid.UUID(int=i))


def test_source_behind_head_is_refused_untouched(fresh_database_url: str, tmp_path: Path) -> None:
    source_file = tmp_path / "old.db"
    source = f"sqlite:///{source_file}"
    upgrade_to_head(source)
    downgrade_to("-1", source)
    before = file_sha256(source_file)
    done = run_copy(source, fresh_database_url, tmp_path)
    assert done.returncode == 2
    assert "not at head" in done.stderr and "pcap-analyzer db upgrade" in done.stderr
    assert file_sha256(source_file) == before

    missing = run_copy(f"sqlite:///{tmp_path / 'nope.db'}", fresh_database_url, tmp_path)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert not (tmp_path / "nope.db").exists()


def test_append_allows_a_filled_target(fresh_database_url: str, tmp_path: Path) -> None:
    upgrade_to_head(fresh_database_url)

    async def add_audit() -> None:
        async with DatabasePool(fresh_database_url) as db:
            await db.execute(
                "INSERT INTO audit_log (action, created_at) VALUES ('before', CURRENT_TIMESTAMP)"
            )

    asyncio.run(add_audit())
    source = bulk_source(tmp_path / "src.db", 20)
    refused = run_copy(source, fresh_database_url, tmp_path)
    assert refused.returncode == 2 and "audit_log: 1 rows" in refused.stderr
    done = run_copy(source, fresh_database_url, tmp_path, "--append")
    assert done.returncode == 0, done.stderr
    counts = asyncio.run(_counts(fresh_database_url))
    assert counts == _rows(users=1, audit_log=1, tasks=20)


def _marker_rows(url: str) -> int | None:
    async def read() -> int | None:
        async with DatabasePool(url) as db:
            try:
                row = await db.fetch_one(f"SELECT SUM(rows_copied) AS n FROM {COPY_MARKER_TABLE}")
            except Exception:
                return None
        return int(row["n"] or 0) if row else None

    return asyncio.run(read())


async def _unfinished(url: str) -> bool:
    engine = create_engine_for(url, pooled=False)
    try:
        return await unfinished_copy(engine)
    finally:
        await engine.dispose()


def test_killed_copy_is_refused_then_resumed(fresh_database_url: str, tmp_path: Path) -> None:
    source = bulk_source(tmp_path / "src.db", 4000, snapshots_per_task=10)
    env = subprocess_env(DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen(
        [str(CLI), "db", "copy", "--from", source, "--to", fresh_database_url, "--batch-size", "100"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    copied = None
    while time.monotonic() < deadline and proc.poll() is None:
        copied = _marker_rows(fresh_database_url)
        if copied and copied > 2000:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the copy finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert copied and _marker_rows(fresh_database_url)
    assert asyncio.run(_unfinished(fresh_database_url))  # /api/health reports it (503)

    refused = run_copy(source, fresh_database_url, tmp_path)
    assert refused.returncode == 2
    assert (
        "unfinished copy" in refused.stderr and "--resume" in refused.stderr and "--restart" in refused.stderr
    )
    partial = asyncio.run(_counts(fresh_database_url))
    assert 0 < partial["tasks"] + partial["progress_snapshots"] < 44000

    resumed = run_copy(source, fresh_database_url, tmp_path, "--resume", "--batch-size", "500")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming the unfinished copy" in resumed.stderr
    assert asyncio.run(_counts(fresh_database_url)) == _rows(users=1, tasks=4000, progress_snapshots=40000)
    assert _marker_rows(fresh_database_url) is None  # the marker is gone once the copy is complete
    assert not asyncio.run(_unfinished(fresh_database_url))


def test_restart_empties_an_unfinished_copy(fresh_database_url: str, tmp_path: Path) -> None:
    source = bulk_source(tmp_path / "src.db", 30)

    async def fake_interrupted() -> None:
        # The state a killed copy leaves: some rows and the marker (made by the copy's own first steps).
        result = await copy_database(source, fresh_database_url)
        assert result.ok
        target = create_engine_for(fresh_database_url, pooled=False)
        try:
            async with target.begin() as conn:
                await conn.run_sync(marker.create)
                await conn.execute(
                    marker.insert().values(
                        step="users",
                        position=0,
                        rows_copied=1,
                        done=True,
                        source=source,
                        started_at="earlier",
                        append=False,
                    )
                )
                await conn.execute(audit_log.insert().values(action="stray"))
                await conn.execute(progress_snapshots.delete())
        finally:
            await target.dispose()

    asyncio.run(fake_interrupted())
    assert run_copy(source, fresh_database_url, tmp_path).returncode == 2
    other = bulk_source(tmp_path / "other.db", 1)
    wrong = run_copy(other, fresh_database_url, tmp_path, "--resume")
    assert wrong.returncode == 2 and f"came from {source}" in wrong.stderr
    done = run_copy(source, fresh_database_url, tmp_path, "--restart")
    assert done.returncode == 0, done.stderr
    assert asyncio.run(_counts(fresh_database_url)) == _rows(users=1, tasks=30)


def test_peak_memory_stays_flat_as_rows_grow(fresh_database_url: str, tmp_path: Path, backend: str) -> None:
    """10,000 vs 40,000 tasks of ~2 KB each: a copy that loaded whole tables would grow by 60 MB+."""
    results = {}
    for n in (10_000, 40_000):
        folder = tmp_path / str(n)
        folder.mkdir()
        source = bulk_source(folder / "src.db", n, pad=2000)
        target = fresh_database_url if n == 10_000 else _second_target(backend, folder)
        measured = measure_copy(source, target, folder)
        assert measured.returncode == 0, measured.stderr
        results[n] = measured
        print(f"{backend}: {n} tasks in {measured.seconds:.1f} s, peak RSS {measured.peak_rss_mb:.0f} MB")
    growth = results[40_000].peak_rss_mb - results[10_000].peak_rss_mb
    assert growth < 20, f"peak memory grew by {growth:.0f} MB from 10k to 40k rows"


_extra: list[str] = []


def _second_target(backend: str, folder: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'target.db'}"
    from tests.app.conftest import create_postgres_database

    url = create_postgres_database("pcap_copy")
    _extra.append(url)
    return url


@pytest.fixture(autouse=True)
def _drop_extra_databases() -> object:
    yield
    from tests.app.conftest import drop_postgres_database

    while _extra:
        drop_postgres_database(_extra.pop())


@pytest.mark.benchmark
@pytest.mark.postgres
def test_benchmark_100k_tasks_to_postgresql(tmp_path: Path, postgres_available: bool) -> None:
    """100,000 tasks (plus 2 progress snapshots each) from SQLite to PostgreSQL: time, rows/s, peak RSS."""
    from tests.app.conftest import create_postgres_database, require_postgres

    require_postgres(postgres_available)
    source = bulk_source(tmp_path / "src.db", 100_000, snapshots_per_task=2, pad=200)
    target = create_postgres_database("pcap_copy_bench")
    _extra.append(target)
    measured = measure_copy(source, target, tmp_path, "--batch-size", "2000")
    assert measured.returncode == 0, measured.stderr
    rows = 1 + 100_000 * 3
    print(measured.stdout.strip().splitlines()[-1])
    print(
        f"\ndb copy benchmark: {rows} rows in {measured.seconds:.1f} s "
        f"({rows / measured.seconds:,.0f} rows/s including verification), "
        f"peak RSS {measured.peak_rss_mb:.0f} MB"
    )


def test_canonical_values_agree_across_drivers() -> None:
    """What SQLite and PostgreSQL drivers return for the same stored value serialises identically."""
    import uuid
    from datetime import datetime, timedelta, timezone

    from app.db.copy_verify import canonical_value
    from app.db.tables import users

    uid = uuid.uuid4()
    stamp = datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert canonical_value(users.c.id, uid) == canonical_value(users.c.id, str(uid)) == str(uid)
    assert canonical_value(users.c.created_at, stamp) == "2026-03-01T10:00:00.000005+00:00"
    assert canonical_value(users.c.created_at, datetime(2026, 3, 1, 10, 0, 0, 5)) == canonical_value(
        users.c.created_at, stamp
    )
    assert canonical_value(tasks.c.health_score, 80) == 80.0 and isinstance(
        canonical_value(tasks.c.health_score, 80), float
    )
    assert canonical_value(users.c.is_active, True) is True
    assert canonical_value(tasks.c.total_packets, None) is None
