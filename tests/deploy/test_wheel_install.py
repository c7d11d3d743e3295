"""A regular (non-editable) install works from any directory: build the wheel, install it with the `web`
extra into a fresh venv outside the repository, migrate SQLite and PostgreSQL, serve.

Dependencies come from the package indexes pip is configured with (and its cache), as for any user.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.app.e2e.server import free_port

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "pcap_analyzer")


def _source_files() -> list[str]:
    """The repository's files (tracked and new, not ignored), relative to ROOT."""
    done = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [name for name in done.stdout.splitlines() if (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a clean copy of the sources (nothing built in the worktree)."""
    src = tmp_path_factory.mktemp("src")
    for name in _source_files():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(src)],
        check=True,
        capture_output=True,
        timeout=900,  # the build compiles the engine's kernels (setup.py)
    )
    (built,) = out.glob("pcap_analyzer-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site-packages) with the wheel and its `web` extra; returns its bin/."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile", f"{wheel}[web]"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return venv / "bin"


def test_wheel_holds_every_package_file(wheel: Path) -> None:
    """Templates, static files, the migration template and report assets are all in the wheel."""
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = [
        name
        for name in _source_files()
        if name.startswith(tuple(f"{p}/" for p in PACKAGES)) and "__pycache__" not in name
    ]
    assert any(name.startswith("app/migrations/versions/") for name in expected)
    missing = sorted(set(expected) - names)
    assert missing == [], f"files of the packages missing from {wheel.name}: {missing}"


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "PCAP_", "WORKER_", "PYTHON"))
    }
    env.update(
        DATABASE_URL=database_url,
        DATA_DIR=str(data_dir),
        SECRET_KEY=secrets.token_hex(32),
        ENVIRONMENT="production",
    )
    return env


def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    from app.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head
    return head


def _upgrade(bin_dir: Path, database_url: str, workdir: Path) -> None:
    done = subprocess.run(
        [str(bin_dir / "pcap-analyzer"), "db", "upgrade"],
        env=_env(database_url, workdir / "data"),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_db_upgrade_on_sqlite_outside_the_repository(installed: Path, tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    _upgrade(installed, f"sqlite:///{db}", tmp_path)
    with sqlite3.connect(db) as con:
        (version,) = con.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert version == _head_revision()
    assert {"users", "tasks", "progress_snapshots"} <= tables


@pytest.mark.postgres
def test_db_upgrade_on_postgresql_then_serve(installed: Path, postgres_url: str, tmp_path: Path) -> None:
    import asyncio

    import asyncpg

    _upgrade(installed, postgres_url, tmp_path)

    async def read() -> tuple[str, set[str]]:
        conn = await asyncpg.connect(postgres_url)
        try:
            version = await conn.fetchval("SELECT version_num FROM alembic_version")
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        finally:
            await conn.close()
        return version, {r["tablename"] for r in rows}

    version, tables = asyncio.run(read())
    assert version == _head_revision()
    assert {"users", "tasks", "progress_snapshots"} <= tables

    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(installed / "pcap-analyzer"), "serve", "--port", str(port)],
            env=_env(postgres_url, tmp_path / "data"),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline, health = time.monotonic() + 90, None
        while time.monotonic() < deadline and health is None:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                health = httpx.get(f"{base}/api/health", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.3)
        assert health is not None, log_path.read_text()[-3000:]
        assert health.status_code == 200, health.text
        assert health.json()["status"] == "ok"
        page = httpx.get(f"{base}/login", timeout=10)  # a template and its static files, from the wheel
        assert page.status_code == 200 and "<form" in page.text, page.text[:500]
        assert httpx.get(f"{base}/static/app.css", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _count_records(capture: Path) -> int:
    """Records of a classic little-endian pcap, counted from the record headers."""
    data = capture.read_bytes()
    pos, n = 24, 0
    while pos + 16 <= len(data):
        pos += 16 + int.from_bytes(data[pos + 8 : pos + 12], "little")
        n += 1
    return n


def test_wheel_carries_compiled_kernels(wheel: Path) -> None:
    """A platform wheel with the ahead-of-time kernels and their manifest inside."""
    assert "-linux_" in wheel.name and not wheel.name.endswith("-none-any.whl"), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("pcap_analyzer/_kernels.") and n.endswith(".so") for n in names), names
    assert "pcap_analyzer/_kernels.json" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("samples/")]


def _python_for(as_user: list[str]) -> str:
    """A Python of this version (the wheel's ABI) that the user of `as_user` may run: this one, or the
    system's when this one lives where only root can read (e.g. under /root/.pyenv)."""
    want = f"{sys.version_info.major}.{sys.version_info.minor}"
    probe = "import sys; print('%d.%d' % sys.version_info[:2], sys.base_prefix)"
    for candidate in (os.path.realpath(getattr(sys, "_base_executable", sys.executable)), "/usr/bin/python3"):
        done = subprocess.run([*as_user, candidate, "-c", probe], capture_output=True, text=True, timeout=60)
        if done.returncode == 0 and done.stdout.split() == [
            want,
            os.path.dirname(os.path.dirname(candidate)),
        ]:
            return candidate
    pytest.fail(f"no Python {want} that an unprivileged user can run (tried this one and /usr/bin/python3)")


@pytest.mark.skipif(os.geteuid() != 0, reason="installs as root and runs as another user")
def test_root_install_runs_for_another_user_without_compiling(wheel: Path) -> None:
    """Installed by root into a venv the user cannot write (as a system install or a read-only image
    layer), `analyze` run by an unprivileged user loads the compiled kernels: Numba is never imported, so
    nothing is compiled, and no RuntimeWarning (the engine's switch to the JIT) is raised."""
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    python = _python_for(as_nobody)
    base = Path(tempfile.mkdtemp(prefix="pcap-wheel-ro-", dir="/tmp"))
    try:
        base.chmod(0o755)
        venv, out = base / "venv", base / "out"
        subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        subprocess.run(["chmod", "-R", "a-w", str(venv)], check=True)
        out.mkdir(mode=0o777)
        out.chmod(0o777)
        capture = out / "demo.pcap"
        shutil.copyfile(ROOT / "samples" / "demo.pcap", capture)
        capture.chmod(0o644)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PCAP_", "PYTHON", "NUMBA_"))}
        env.update(HOME=str(out), PYTHONWARNINGS="error::RuntimeWarning")
        report = out / "r.json"
        run = subprocess.run(
            [*as_nobody, str(venv / "bin" / "pcap-analyzer"), "analyze", str(capture), "--json", str(report)],
            cwd=out,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Warning" not in run.stderr, run.stderr
        assert json.loads(report.read_text())["capture"]["packets"] == _count_records(capture)
        probe = (
            "import sys; from pcap_analyzer import analyze, jit; r = analyze(sys.argv[1]); "
            "print(jit.MODE, 'numba' in sys.modules, r.capture.packets)"
        )
        run = subprocess.run(
            [*as_nobody, str(venv / "bin" / "python"), "-c", probe, str(capture)],
            cwd=out,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == ["aot", "False", str(_count_records(capture))], run.stdout + run.stderr
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)
