"""Alembic migrations on both databases: up, down, the CLI commands, drift, and the cascades."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from app.db.migrate import alembic_config, current_revision, downgrade_to, upgrade_to_head
from app.db.tables import metadata, progress_snapshots, tasks, users
from app.services.postgres_database import DatabasePool
from tests.app.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[3]
FIRST = "eba0e1bcc7ec"
SCRIPTS = ScriptDirectory.from_config(alembic_config("sqlite://"))
HEAD = SCRIPTS.get_current_head()
ALL_TABLES = set(metadata.tables)


def alembic(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real `alembic` command of the venv, on `url`, from another folder."""
    exe = Path(sys.executable).with_name("alembic")
    env = subprocess_env(DATABASE_URL=url)
    cmd = [str(exe), "-c", str(ROOT / "alembic.ini"), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


async def table_names(url: str) -> set[str]:
    async with DatabasePool(url) as db, db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def drift(url: str) -> list[object]:
    async with DatabasePool(url) as db, db.engine.connect() as conn:
        return await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))


async def test_upgrade_downgrade_upgrade(fresh_database_url: str) -> None:
    assert current_revision(fresh_database_url) is None
    assert upgrade_to_head(fresh_database_url) == HEAD
    assert {"users", "tasks", "progress_snapshots"} <= await table_names(fresh_database_url)
    assert downgrade_to("base", fresh_database_url) is None
    assert await table_names(fresh_database_url) == {"alembic_version"}
    assert current_revision(fresh_database_url) is None
    assert upgrade_to_head(fresh_database_url) == HEAD
    assert await table_names(fresh_database_url) == ALL_TABLES | {"alembic_version"}
    assert await drift(fresh_database_url) == []


def test_alembic_command_line(fresh_database_url: str, tmp_path: Path) -> None:
    def run(*args: str) -> str:
        done = alembic(fresh_database_url, *args, cwd=tmp_path)
        assert done.returncode == 0, f"alembic {' '.join(args)}: {done.stderr}"
        return done.stdout

    first = f"<base> -> {FIRST}{' (head)' if HEAD == FIRST else ''}, initial_schema_with_user_approval"
    assert run("history").strip().splitlines()[-1] == first
    run("upgrade", "head")
    assert run("current").strip() == f"{HEAD} (head)"
    run("downgrade", "-1")
    previous = SCRIPTS.get_revision(HEAD).down_revision
    assert run("current").strip() == (previous or "")
    run("upgrade", "+1")
    assert run("current").strip() == f"{HEAD} (head)"
    run("check")  # exits non-zero when autogenerate would find a difference
    run("downgrade", "base")
    run("stamp", "head")  # marks without running: the tables are still absent
    assert run("current").strip() == f"{HEAD} (head)"


def test_autogenerate_writes_an_empty_revision(migrated_database_url: str, tmp_path: Path) -> None:
    """`alembic revision --autogenerate` on a fresh head database proposes no operation.

    Runs on a copy of the migration scripts so the new file never lands in the real versions folder."""
    ini = (ROOT / "alembic.ini").read_text()
    local = ini.replace("script_location = app:migrations", "script_location = %(here)s/alembic")
    assert local != ini
    (tmp_path / "alembic.ini").write_text(local)
    scripts = ROOT / "app" / "migrations"
    shutil.copytree(scripts, tmp_path / "alembic", ignore=shutil.ignore_patterns("__pycache__"))
    exe = Path(sys.executable).with_name("alembic")
    done = subprocess.run(
        [str(exe), "revision", "--autogenerate", "-m", "nothing"],
        cwd=tmp_path, env=subprocess_env(DATABASE_URL=migrated_database_url), capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (generated,) = (tmp_path / "alembic" / "versions").glob("*_nothing.py")
    body = generated.read_text()
    for name in ("upgrade", "downgrade"):
        function = body.split(f"def {name}() -> None:\n", 1)[1].split("\n\n", 1)[0]
        statements = [line.strip() for line in function.splitlines() if not line.strip().startswith("#")]
        assert statements == ["pass"], f"{name}() is not empty:\n{function}"


def test_bad_database_url_in_alembic(tmp_path: Path) -> None:
    done = alembic("mysql://u:pw@h/db", "current", cwd=tmp_path)
    assert done.returncode != 0
    assert "DATABASE_URL" in done.stderr and "unsupported scheme 'mysql'" in done.stderr


def _now() -> datetime:
    return datetime.now(UTC)


async def test_cascade_users_tasks_progress(migrated_database_url: str) -> None:
    user_id, other = uuid.uuid4(), uuid.uuid4()
    async with DatabasePool(migrated_database_url) as db:
        async with db.engine.begin() as conn:
            for uid, name in ((user_id, "alice"), (other, "bob")):
                row = {"id": uid, "username": name, "email": f"{name}@example.org", "hashed_password": "x"}
                await conn.execute(users.insert().values(**row))
            for task_id, owner in (("t1", user_id), ("t2", user_id), ("t3", other)):
                await conn.execute(tasks.insert().values(task_id=task_id, filename="a.pcap", owner_id=owner))
                snapshot = {"task_id": task_id, "phase": "decode", "created_at": _now()}
                await conn.execute(progress_snapshots.insert().values(**snapshot))
        with pytest.raises(IntegrityError):  # foreign keys are enforced (SQLite too)
            async with db.engine.begin() as conn:
                orphan = {"task_id": "t9", "filename": "b.pcap", "owner_id": uuid.uuid4()}
                await conn.execute(tasks.insert().values(**orphan))
        assert await db.execute("DELETE FROM users WHERE username = :name", {"name": "alice"}) == 1
        remaining = await db.fetch_all("SELECT task_id FROM tasks ORDER BY task_id")
        progress = await db.fetch_all("SELECT task_id FROM progress_snapshots ORDER BY task_id")
    assert [r["task_id"] for r in remaining] == ["t3"]
    assert [r["task_id"] for r in progress] == ["t3"]


async def test_timestamps_come_back_timezone_aware(migrated_database_url: str) -> None:
    stamp = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    async with DatabasePool(migrated_database_url) as db:
        async with db.engine.begin() as conn:
            await conn.execute(
                users.insert().values(
                    id=uuid.uuid4(), username="carol", email="c@ex.org", hashed_password="x", created_at=stamp
                )
            )
            row = (await conn.execute(sa.select(users.c.created_at, users.c.id))).one()
    assert row.created_at == stamp and row.created_at.tzinfo is not None
    assert isinstance(row.id, uuid.UUID)


def test_concurrent_upgrades_are_serialised(fresh_database_url: str, tmp_path: Path) -> None:
    """Several processes starting at once (replicas, web + worker) all end at head without error."""
    code = "import sys\nfrom app.db.migrate import upgrade_to_head\nprint(upgrade_to_head(sys.argv[1]))"
    env = subprocess_env()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, fresh_database_url], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for _ in range(3)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == HEAD
