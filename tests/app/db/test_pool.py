"""DatabasePool on both databases, and its errors when the database cannot be reached."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import make_url

from app.errors import DatabaseUnavailable
from app.services.postgres_database import DatabasePool


async def test_fetch_and_execute(migrated_database_url: str, backend: str) -> None:
    async with DatabasePool(migrated_database_url) as db:
        assert db.db_type == backend
        assert await db.fetch_one("SELECT 1 AS test") == {"test": 1}
        assert await db.fetch_one("SELECT task_id FROM tasks") is None
        for i in range(3):
            await db.execute(
                "INSERT INTO users (id, username, email, hashed_password, created_at, updated_at) "
                "VALUES (:id, :name, :email, 'x', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                {
                    "id": f"00000000-0000-4000-8000-00000000000{i}",
                    "name": f"u{i}",
                    "email": f"u{i}@example.org",
                },
            )
        changed = await db.execute(
            "UPDATE users SET is_active = :active WHERE username <> :keep", {"active": False, "keep": "u0"}
        )
        rows = await db.fetch_all("SELECT username, is_active FROM users ORDER BY username")
    assert changed == 2
    assert [(r["username"], bool(r["is_active"])) for r in rows] == [
        ("u0", True),
        ("u1", False),
        ("u2", False),
    ]


async def test_sqlite_pragmas_and_parent_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'new' / 'sub' / 'db.sqlite'}"
    async with DatabasePool(url) as db:
        assert await db.fetch_one("PRAGMA foreign_keys") == {"foreign_keys": 1}
        assert await db.fetch_one("PRAGMA journal_mode") == {"journal_mode": "wal"}
        assert (await db.fetch_one("PRAGMA busy_timeout"))["timeout"] >= 1000  # type: ignore[index]
    assert (tmp_path / "new" / "sub" / "db.sqlite").is_file()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://pcap:hunter2secret@127.0.0.1:1/pcapdb",
        "postgresql+psycopg2://pcap:hunter2secret@127.0.0.1:1/pcapdb",
    ],
)
async def test_unreachable_postgres_is_a_clear_error(url: str) -> None:
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as caught:
        await DatabasePool(url).connect()
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert elapsed < 6, f"took {elapsed:.1f} s"
    assert "'pcapdb'" in message and "127.0.0.1:1" in message
    assert "hunter2secret" not in message and "***" in message


@pytest.mark.postgres
async def test_missing_database_and_wrong_user(postgres_available: bool) -> None:
    from tests.app.conftest import postgres_admin_dsn, require_postgres

    require_postgres(postgres_available)
    base = make_url(postgres_admin_dsn())
    missing = base.set(database="pcap_no_such_database").render_as_string(hide_password=False)
    with pytest.raises(DatabaseUnavailable, match="pcap_no_such_database.*does not exist"):
        await DatabasePool(missing).connect()
    wrong = base.set(username="pcap_no_such_role", password="s3cret-pw").render_as_string(hide_password=False)
    with pytest.raises(DatabaseUnavailable) as caught:
        await DatabasePool(wrong).connect()
    assert "pcap_no_such_role" in str(caught.value) and "s3cret-pw" not in str(caught.value)
