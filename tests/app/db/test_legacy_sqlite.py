"""Adoption of an SQLite database created before Alembic existed (tables present, no alembic_version)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.db.migrate import alembic_config, current_revision, is_legacy_sqlite, upgrade_to_head
from app.db.tables import metadata
from app.services.postgres_database import DatabasePool

# The schema of the pre-Alembic releases: no approval columns, no queue columns, no cascade.
LEGACY_SCHEMA = """
CREATE TABLE users (
    id TEXT PRIMARY KEY, username TEXT UNIQUE NOT NULL, email TEXT UNIQUE NOT NULL,
    hashed_password TEXT NOT NULL, role TEXT NOT NULL DEFAULT 'user', is_active BOOLEAN DEFAULT 1,
    created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP, last_login TIMESTAMP
);
CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY, filename TEXT NOT NULL, status TEXT NOT NULL, uploaded_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP, file_size INTEGER, total_packets INTEGER, health_score REAL,
    report_html_path TEXT, report_json_path TEXT, error_message TEXT, expires_at TIMESTAMP,
    owner_id TEXT REFERENCES users(id)
);
CREATE INDEX idx_tasks_owner ON tasks(owner_id);
CREATE TABLE progress_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL REFERENCES tasks(task_id),
    phase TEXT NOT NULL, progress_percent INTEGER NOT NULL, packets_processed INTEGER, total_packets INTEGER,
    current_analyzer TEXT, message TEXT, created_at TIMESTAMP NOT NULL
);
INSERT INTO users VALUES ('6f1c1d9e-4a44-4f5e-9d4b-2a9a3c1f0b11', 'olduser', 'old@example.org', 'h',
    'user', 1, '2024-01-02 03:04:05.000000', NULL, NULL);
INSERT INTO tasks (task_id, filename, status, uploaded_at, owner_id, health_score)
    VALUES ('task-1', 'capture.pcap', 'completed', '2024-01-02 04:00:00.000000',
            '6f1c1d9e-4a44-4f5e-9d4b-2a9a3c1f0b11', 87.5);
INSERT INTO progress_snapshots (task_id, phase, progress_percent, created_at)
    VALUES ('task-1', 'completed', 100, '2024-01-02 04:01:00.000000');
"""


def dump(path: Path) -> list[str]:
    con = sqlite3.connect(path)
    try:
        return list(con.iterdump())
    finally:
        con.close()


def make_legacy(path: Path) -> str:
    with sqlite3.connect(path) as con:
        con.executescript(LEGACY_SCHEMA)
    con.close()
    return f"sqlite:///{path}"


async def test_legacy_database_is_adopted_not_dropped(tmp_path: Path) -> None:
    url = make_legacy(tmp_path / "old.db")
    assert is_legacy_sqlite(url)
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()

    assert upgrade_to_head(url) == head
    assert current_revision(url) == head and not is_legacy_sqlite(url)
    assert len(list(tmp_path.glob("old.db.pre-alembic-*.bak"))) == 1

    async with DatabasePool(url) as db:
        user = await db.fetch_one(
            "SELECT username, is_approved, approved_at, must_change_password AS mcp FROM users"
        )
        task = await db.fetch_one("SELECT task_id, owner_id, health_score, attempts, kind FROM tasks")
        snap = await db.fetch_one("SELECT task_id, progress_percent FROM progress_snapshots")
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
        # The adopted schema cascades like a new one.
        await db.execute("DELETE FROM users")
        left = await db.fetch_one("SELECT COUNT(*) AS n FROM tasks")
    assert user is not None and user["username"] == "olduser"
    assert user["is_approved"] == 1 and user["approved_at"] is not None and user["mcp"] == 0
    assert task == {
        "task_id": "task-1", "owner_id": "6f1c1d9e-4a44-4f5e-9d4b-2a9a3c1f0b11", "health_score": 87.5,
        "attempts": 0, "kind": "analysis.run",
    }  # fmt: skip
    assert snap == {"task_id": "task-1", "progress_percent": 100.0}
    assert diff == []
    assert left == {"n": 0}


def test_failed_adoption_restores_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    url = make_legacy(path)
    with sqlite3.connect(path) as con:  # a task owned by a user that does not exist: cannot be adopted
        con.execute(
            "INSERT INTO tasks (task_id, filename, status, uploaded_at, owner_id) "
            "VALUES ('x', 'f', 'failed', '2024-01-01 00:00:00', 'no-such-user')"
        )
    con.close()
    before = dump(path)
    try:
        upgrade_to_head(url)
    except RuntimeError as exc:
        assert "dangling foreign keys" in str(exc)
    else:
        raise AssertionError("adoption of an inconsistent database should fail")
    assert dump(path) == before and is_legacy_sqlite(url)
