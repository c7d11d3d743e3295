"""Database fixtures of the web-service tests, on SQLite and on the real PostgreSQL.

Fixtures (all parametrized over the two databases, test ids ``[sqlite]`` and ``[postgresql]``):

- ``database_url`` (module scope): the URL of a new, EMPTY database for the test module: an SQLite file
  in a temp folder, or a uniquely named PostgreSQL database created on TEST_POSTGRES_URL's server and
  dropped afterwards. Module-scoped so that module fixtures (a live server...) can use it; on PostgreSQL
  any database of the server also works as an admin connection to create more.
- ``fresh_database_url`` (function scope): a new EMPTY database per test, of the same kind.
- ``migrated_database_url`` (function scope): ``fresh_database_url`` upgraded to Alembic head.
- ``app_env`` (function scope): points the application's settings at ``migrated_database_url``
  (DATABASE_URL), a temp DATA_DIR, ENVIRONMENT=test and a fixed SECRET_KEY, clearing the settings cache
  before and after; returns the Settings.
- ``user_service``: the user service on a DatabasePool of ``app_env``'s database (closed afterwards).

Autouse, once per session: DATABASE_URL, DATA_DIR, SECRET_KEY and ENVIRONMENT point at a session temp
folder, so no test reads a developer's .env values from the environment or writes into ./data.

PostgreSQL: TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres) names the server.
When it is unreachable, the ``postgresql`` tests are skipped with the reason, unless REQUIRE_POSTGRES=1
(as in CI: .ci/run), in which case they fail. They carry the ``postgres`` marker (``-m "not postgres"``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]
TEST_SECRET_KEY = "test-secret-key-0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="session", autouse=True)
def _hermetic_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    from app.config import reset_settings

    folder = tmp_path_factory.mktemp("settings")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATA_DIR", str(folder / "data"))
        patch.setenv("DATABASE_URL", f"sqlite:///{folder / 'data' / 'session.db'}")
        patch.setenv("SECRET_KEY", TEST_SECRET_KEY)
        patch.setenv("ENVIRONMENT", "test")
        reset_settings()
        yield
    reset_settings()


def postgres_admin_dsn() -> str:
    """The libpq-style DSN of the test server (TEST_POSTGRES_URL), for asyncpg."""
    url = make_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL))
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin_execute(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(postgres_admin_dsn(), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_postgres_database(prefix: str = "pcap_test") -> str:
    """Create a uniquely named database; return its SQLAlchemy URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    return make_url(postgres_admin_dsn()).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop a database made by create_postgres_database (closing its remaining connections)."""
    name = make_url(url).database
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_unreachable_reason: list[str] = []


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    """Whether the test server answers (checked once per session)."""
    try:
        asyncio.run(_admin_execute("SELECT 1"))
    except Exception as exc:  # any reason (refused, auth, missing driver) means: no PostgreSQL tests
        _unreachable_reason.append(f"PostgreSQL not reachable at {make_url(postgres_admin_dsn())!r}: {exc}")
        return False
    return True


def require_postgres(available: bool) -> None:
    """Skip the calling PostgreSQL test when the server is unreachable, or fail if REQUIRE_POSTGRES=1."""
    if available:
        return
    reason = _unreachable_reason[0] if _unreachable_reason else "PostgreSQL not reachable"
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
    pytest.skip(f"{reason} (set TEST_POSTGRES_URL; REQUIRE_POSTGRES=1 makes this a failure)")


def _fresh(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        folder.mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{folder / f'test-{secrets.token_hex(4)}.db'}"
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, postgres_available: bool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database for the whole test module (see the module docstring)."""
    if request.param == "postgresql":
        require_postgres(postgres_available)
    yield from _fresh(request.param, tmp_path_factory.mktemp("db"))


@pytest.fixture
def backend(database_url: str) -> str:
    """The database kind of this test: "sqlite" or "postgresql"."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


@pytest.fixture
def fresh_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A new empty database for this test only."""
    yield from _fresh(backend, tmp_path / "db")


@pytest.fixture
def migrated_database_url(fresh_database_url: str) -> str:
    """A new database at Alembic head."""
    from app.db.migrate import upgrade_to_head

    upgrade_to_head(fresh_database_url)
    return fresh_database_url


@pytest.fixture
def app_env(migrated_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The application's settings pointed at this test's database and a temp DATA_DIR."""
    from app.config import get_settings, reset_settings

    monkeypatch.setenv("DATABASE_URL", migrated_database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET_KEY)
    reset_settings()
    yield get_settings()
    reset_settings()


@pytest.fixture
async def user_service(app_env: Any) -> AsyncIterator[Any]:
    """The user service on a pool of the test database."""
    from app.services.postgres_database import DatabasePool
    from app.services.user_database import get_user_db_service

    pool = DatabasePool(app_env.DATABASE_URL)
    await pool.connect()
    try:
        yield get_user_db_service(pool)
    finally:
        await pool.close()


def subprocess_env(**extra: str) -> dict[str, str]:
    """The current environment without the app's settings, plus `extra` (for CLI/script subprocesses)."""
    names = ("DATABASE_URL", "DATA_DIR", "SECRET_KEY", "ENVIRONMENT", "REPORT_TTL_HOURS")
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(extra)
    return env
