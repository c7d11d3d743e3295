"""`serve`, `worker` and `db` in a bad environment (a folder that cannot be created), and `serve`'s
first-run hint, run as the real console script."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import subprocess_env
from tests.app.e2e.server import free_port

CLI = Path(sys.executable).with_name("pcap-analyzer")
VENV_BIN = CLI.parent


def _run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], cwd=cwd, env=subprocess_env(**env), capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A regular file: no folder can be created below it."""
    path = tmp_path / "not-a-folder"
    path.write_text("")
    return path


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["worker"]])
def test_uncreatable_data_dir_is_one_line(tmp_path: Path, blocker: Path, command: list[str]) -> None:
    data_dir = blocker / "data"
    url = f"sqlite:///{tmp_path}/db.sqlite"
    done = _run(tmp_path, *command, DATA_DIR=str(data_dir), DATABASE_URL=url)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"error: cannot use {data_dir}: Not a directory"]
    assert "Traceback" not in done.stdout


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["db", "upgrade"], ["db", "current"]])
def test_uncreatable_sqlite_folder_is_one_line(tmp_path: Path, blocker: Path, command: list[str]) -> None:
    url = f"sqlite:///{blocker}/db/app.sqlite"
    done = _run(tmp_path, *command, DATA_DIR=str(tmp_path / "data"), DATABASE_URL=url)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: cannot use {blocker}/db: Not a directory"], done.stderr
    assert "Traceback" not in done.stderr


def test_service_commands_share_the_exit_code(tmp_path: Path) -> None:
    """An unreachable database: 2 for db, serve and worker alike (the README's convention)."""
    url = "postgresql://u:pw@127.0.0.1:1/nowhere"
    for command in (["db", "upgrade"], ["db", "current"], ["serve", "--port", "1"], ["worker"]):
        done = _run(tmp_path, *command, DATA_DIR=str(tmp_path / "data"), DATABASE_URL=url)
        assert done.returncode == 2, (command, done.stderr)
        assert done.stderr.splitlines()[-1].startswith("error: cannot connect to database"), done.stderr


def test_serve_hint_names_a_command_that_works(tmp_path: Path) -> None:
    """As after ./scripts/serve: the venv's bin is not on PATH, the script is started by a relative path."""
    project = VENV_BIN.parent.parent
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != VENV_BIN)
    env = subprocess_env(
        DATA_DIR=str(tmp_path / "data"), DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite", PATH=path
    )
    relative = os.path.relpath(CLI, project)
    proc = subprocess.Popen(
        [relative, "serve", "--port", str(free_port())],
        cwd=project,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # Ctrl-C works (see test_cli_errors)
    )
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while not any("users create-admin" in line for line in lines):
            assert time.monotonic() < deadline and proc.poll() is None, lines
            lines.append(proc.stderr.readline())
    finally:
        proc.send_signal(signal.SIGINT)
        # Keep reading while it stops: its web processes log to the same pipe, and a full pipe would
        # block them mid-shutdown.
        proc.communicate(timeout=60)
    hint = next(line for line in lines if "users create-admin" in line).strip()
    assert hint.startswith(f"{relative} users create-admin"), hint
    created = subprocess.run(
        [*shlex.split(hint), "--password-stdin"],
        input="a-long-admin-password\n",
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    assert "administrator 'admin' created" in created.stdout


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder under /tmp that another user can enter: `ro` (read-only for them) and `rw` (writable)."""
    root = Path(tempfile.mkdtemp(prefix="cli-perm-"))
    try:
        root.chmod(0o755)
        (root / "ro").mkdir(mode=0o755)
        (root / "rw").mkdir()
        (root / "rw").chmod(0o777)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("command", [["worker"], ["db", "upgrade"], ["serve", "--port", "1"]])
def test_permission_denied_is_one_line(shared_dir: Path, command: list[str]) -> None:
    """A folder the service's user may not create (root may create anything, so run as `nobody`)."""
    ro, rw = shared_dir / "ro", shared_dir / "rw"
    as_other_user = (
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    )
    sqlite_in_ro = command == ["db", "upgrade"]
    env = subprocess_env(
        DATA_DIR=str((rw if sqlite_in_ro else ro) / "data"),
        DATABASE_URL=f"sqlite:///{(ro / 'db') if sqlite_in_ro else rw}/app.sqlite",
    )
    done = subprocess.run(
        [*as_other_user, str(CLI), *command], cwd=rw, env=env, capture_output=True, text=True, timeout=120
    )
    denied = (ro / "db") if sqlite_in_ro else (ro / "data")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"error: cannot use {denied}: Permission denied"], done.stderr
