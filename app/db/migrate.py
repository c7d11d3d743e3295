"""Run Alembic migrations from code (the CLI, the service's start-up, `init_db`), and adopt SQLite
databases created before Alembic existed.

Alembic's env.py uses `asyncio.run`, so these functions are synchronous; inside a running event loop
they run in a worker thread (or await the `*_async` variants).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import logging
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from alembic.command import downgrade as alembic_downgrade
from alembic.command import upgrade as alembic_upgrade
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from app.config import database_url_from_env, sqlite_file
from app.db.engine import migration_connection
from app.db.tables import metadata

log = logging.getLogger("app.db.migrate")
# The migration scripts ship inside the package (app/migrations), so this works from any directory.
SCRIPT_LOCATION = "app:migrations"
LEGACY_PREFIX = "_pre_alembic_"
T = TypeVar("T")


def alembic_config(url: str | None = None) -> Config:
    """The project's Alembic configuration, bound to `url` (default: DATABASE_URL)."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["database_url"] = url or database_url_from_env()
    config.attributes["configure_logger"] = False
    return config


# Alembic's migration context is process-global: one command at a time per process.
_ALEMBIC_LOCK = threading.RLock()


def _outside_loop(func: Callable[[], T]) -> T:
    """Call func (under the Alembic lock) here, or in a worker thread if this thread runs an event loop."""

    def locked() -> T:
        with _ALEMBIC_LOCK:
            return func()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return locked()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(locked).result()


def _read_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def current_revision(url: str | None = None) -> str | None:
    """The revision the database is at (None: never migrated)."""
    url = url or database_url_from_env()

    async def read() -> str | None:
        async with migration_connection(url) as connection:
            return await connection.run_sync(_read_revision)

    return _outside_loop(lambda: asyncio.run(read()))


@contextmanager
def _sqlite_migration_lock(url: str) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes (PostgreSQL uses an advisory lock).

    A separate lock file: opening and closing the database file itself would drop SQLite's own locks.
    """
    path = sqlite_file(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_to_head(url: str | None = None) -> str | None:
    """Bring the database to the latest revision (adopting a pre-Alembic SQLite file first)."""
    url = url or database_url_from_env()

    def run() -> str | None:
        with _sqlite_migration_lock(url):
            if not adopt_legacy_sqlite(url):
                alembic_upgrade(alembic_config(url), "head")
        return current_revision(url)

    return _outside_loop(run)


def downgrade_to(revision: str, url: str | None = None) -> str | None:
    """Downgrade to `revision` ("base", "-1", an id); return the revision reached."""
    url = url or database_url_from_env()

    def run() -> str | None:
        alembic_downgrade(alembic_config(url), revision)
        return current_revision(url)

    return _outside_loop(run)


async def upgrade_to_head_async(url: str | None = None) -> str | None:
    """upgrade_to_head without blocking the running event loop."""
    return await asyncio.to_thread(upgrade_to_head, url)


def _tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]


def is_legacy_sqlite(url: str) -> bool:
    """True for an SQLite file that has our tables but no alembic_version table."""
    path = sqlite_file(url)
    if path is None or not path.is_file():
        return False
    with sqlite3.connect(path) as con:
        tables = _tables(con)
    return "users" in tables and "alembic_version" not in tables


def adopt_legacy_sqlite(url: str) -> bool:
    """Adopt a pre-Alembic SQLite database; return False when there was nothing to adopt.

    The file is first copied to `<name>.pre-alembic-<UTC time>.bak`. The old tables are renamed, the
    head schema is created, every row is copied into it (columns the old schema lacked take their
    defaults; existing accounts are marked approved since they were in use already), then the renamed
    tables are dropped. On any error the backup is restored, so the data is never lost.
    """
    if not is_legacy_sqlite(url):
        return False
    path = sqlite_file(url)
    assert path is not None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup = path.with_name(f"{path.name}.pre-alembic-{stamp}.bak")
    with sqlite3.connect(path) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    log.warning("adopting pre-Alembic SQLite database %s (backup: %s)", path, backup)
    try:
        legacy = _rename_legacy_tables(path)
        alembic_upgrade(alembic_config(url), "head")
        _copy_rows(path, legacy)
    except Exception:
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backup, path)
        raise
    return True


def _rename_legacy_tables(path: Path) -> dict[str, list[str]]:
    """Rename our tables to _pre_alembic_*, drop their indexes; return each table's old columns."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA foreign_keys=OFF")
        con.execute("BEGIN")
        present = _tables(con)
        legacy = {t.name: _columns(con, t.name) for t in metadata.sorted_tables if t.name in present}
        for name in legacy:
            query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL"
            indexes = con.execute(query, (name,)).fetchall()
            for (index,) in indexes:
                con.execute(f'DROP INDEX "{index}"')
            con.execute(f'ALTER TABLE "{name}" RENAME TO "{LEGACY_PREFIX}{name}"')
        con.execute("COMMIT")
    finally:
        con.close()
    return legacy


def _copy_rows(path: Path, legacy: dict[str, list[str]]) -> None:
    """Copy the old rows into the new tables, parents first, then drop the old tables."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA foreign_keys=OFF")
        con.execute("BEGIN")
        for table in metadata.sorted_tables:
            if table.name not in legacy:
                continue
            old = set(legacy[table.name])
            names, values = [], []
            for column in table.columns:
                if column.name in old:
                    expr = f'"{column.name}"'
                    if not column.nullable and column.name.endswith("_at"):
                        expr = f"COALESCE({expr}, '{now}')"
                elif table.name == "users" and column.name in ("is_approved",):
                    expr = "1"
                elif table.name == "users" and column.name == "approved_at":
                    expr = f"'{now}'"
                elif not column.nullable and column.server_default is None and column.name.endswith("_at"):
                    expr = f"'{now}'"
                else:
                    continue  # nullable or has a server default
                names.append(f'"{column.name}"')
                values.append(expr)
            con.execute(
                f'INSERT INTO "{table.name}" ({", ".join(names)}) '
                f'SELECT {", ".join(values)} FROM "{LEGACY_PREFIX}{table.name}"'
            )
        for table in reversed(metadata.sorted_tables):
            if table.name in legacy:
                con.execute(f'DROP TABLE "{LEGACY_PREFIX}{table.name}"')
        problems = con.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"the old database has {len(problems)} dangling foreign keys: {problems[0]}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
