"""`pcap-analyzer db ...` and `users create-admin`, run as the real console script."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from alembic.script import ScriptDirectory

from app.db.migrate import alembic_config
from app.services.postgres_database import DatabasePool
from tests.app.conftest import subprocess_env

CLI = Path(sys.executable).with_name("pcap-analyzer")
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def cli(url: str, folder: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(DATABASE_URL=url, DATA_DIR=str(folder / "data"))
    return subprocess.run(
        [str(CLI), *args], input=stdin, cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def create_admin(url: str, folder: Path, name: str, email: str, pw: str) -> subprocess.CompletedProcess[str]:
    args = ("users", "create-admin", "--username", name, "--email", email, "--password-stdin")
    return cli(url, folder, *args, stdin=pw + "\n")


def test_db_upgrade_and_current(fresh_database_url: str, tmp_path: Path) -> None:
    before = cli(fresh_database_url, tmp_path, "db", "current")
    assert before.returncode == 0 and before.stdout.startswith("none")
    done = cli(fresh_database_url, tmp_path, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert f"at revision {HEAD}" in done.stdout
    after = cli(fresh_database_url, tmp_path, "db", "current")
    assert after.stdout.strip() == HEAD


async def test_create_admin_from_stdin(fresh_database_url: str, tmp_path: Path) -> None:
    done = create_admin(fresh_database_url, tmp_path, "admin", "admin@example.org", "a-strong-admin-pass")
    assert done.returncode == 0, done.stderr
    assert "administrator 'admin' created" in done.stdout

    taken = create_admin(fresh_database_url, tmp_path, "admin", "other@example.org", "a-strong-admin-pass")
    assert taken.returncode == 2
    assert taken.stderr.strip().splitlines()[-1] == "error: the username 'admin' is already taken"

    weak = create_admin(fresh_database_url, tmp_path, "admin2", "a2@example.org", "tooshort")
    assert weak.returncode == 2
    assert weak.stderr.strip().splitlines()[-1] == "error: the password must have at least 12 characters"

    async with DatabasePool(fresh_database_url) as db:
        rows = await db.fetch_all("SELECT username, role, is_approved FROM users")
    assert [(r["username"], r["role"], bool(r["is_approved"])) for r in rows] == [("admin", "admin", True)]


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    done = cli("postgresql://u:topsecret@127.0.0.1:1/pcap", tmp_path, "db", "upgrade")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot connect to database 'pcap' on 127.0.0.1:1")
    assert "topsecret" not in done.stderr


def test_create_admin_prompts_twice_on_a_terminal(fresh_database_url: str, tmp_path: Path) -> None:
    """Without --password-stdin the password is asked twice, hidden, on the controlling terminal."""
    env = subprocess_env(DATABASE_URL=fresh_database_url, DATA_DIR=str(tmp_path / "data"))
    argv = [str(CLI), "users", "create-admin", "--username", "ttyadmin", "--email", "tty@example.org"]
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is its controlling terminal
        os.chdir(tmp_path)
        os.execve(argv[0], argv, env)
    seen = b""

    def read_until(token: bytes | None) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60
        while token is None or token not in seen:
            assert time.monotonic() < deadline, seen
            if select.select([fd], [], [], 1)[0]:
                try:
                    chunk = os.read(fd, 1024)
                except OSError:  # the child exited and closed the terminal
                    chunk = b""
                if not chunk:
                    assert token is None, seen
                    return
                seen += chunk

    read_until(b"Password: ")
    os.write(fd, b"tty-admin-password\n")
    read_until(b"Repeat for confirmation: ")
    os.write(fd, b"tty-admin-password\n")
    read_until(None)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"tty-admin-password" not in seen  # not echoed
    assert b"administrator 'ttyadmin' created" in seen


async def test_reset_password_from_the_shell(fresh_database_url: str, tmp_path: Path) -> None:
    """The operator's recovery path: a temporary password (to change at sign-in) and 2FA turned off."""
    import pyotp

    from app.services.account_security import AccountSecurity
    from app.services.user_database import get_user_db_service

    assert (
        create_admin(
            fresh_database_url, tmp_path, "root", "root@example.org", "a-strong-admin-pass"
        ).returncode
        == 0
    )
    service = get_user_db_service(DatabasePool(fresh_database_url))
    try:
        user = await service.get_user_by_username("root")
        assert user is not None
        secret = pyotp.random_base32()
        await AccountSecurity(service.pool.engine).enable_totp(user.id, secret, 1, ["backupcode01"])
        before = await service.pool.fetch_one("SELECT token_version FROM users")

        done = cli(
            fresh_database_url, tmp_path, "users", "reset-password", "--username", "root", "--disable-2fa"
        )
        assert done.returncode == 0, done.stderr
        temporary = done.stdout.strip().rsplit(" ", 1)[-1]
        assert await service.authenticate("root", temporary) is not None
        assert await service.authenticate("root", "a-strong-admin-pass") is None
        row = await service.pool.fetch_one(
            "SELECT must_change_password, totp_secret, token_version FROM users"
        )
        assert row is not None and before is not None
        assert bool(row["must_change_password"]) and row["totp_secret"] is None
        assert row["token_version"] > before["token_version"]  # every old token is refused
        audit = await service.pool.fetch_all("SELECT action FROM audit_log")
        assert [r["action"] for r in audit] == ["user.reset_password"]

        unknown = cli(fresh_database_url, tmp_path, "users", "reset-password", "--username", "nobody")
        assert unknown.returncode == 2 and "no account named 'nobody'" in unknown.stderr
    finally:
        await service.close()
