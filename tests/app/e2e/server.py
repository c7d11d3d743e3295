"""A real `pcap-analyzer serve` process on a free port, and a small HTTP client for the journeys."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[3]
ADMIN_PASSWORD = "correct-horse-battery-staple-42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `pcap-analyzer` console script."""
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


@dataclass
class LiveServer:
    """`pcap-analyzer serve` with its own DATA_DIR; `admin` is a signed-in administrator client."""

    database_url: str
    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "PCAP_", "MAX_", "WORKER_"))
        }
        env.update(
            DATABASE_URL=self.database_url,
            DATA_DIR=str(self.data_dir),
            SECRET_KEY=secrets.token_hex(32),
            ENVIRONMENT="development",
            WORKER_ENABLED="true",
            WORKER_CONCURRENCY="1",
            WEB_CONCURRENCY="1",  # one process: the sign-in throttling state is per process
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = self.env
        self._env = env
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server did not answer within 90 s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path else ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    @contextlib.contextmanager
    def running_with_admin(self) -> Iterator[LiveServer]:
        """Start the service, create the administrator (ADMIN_PASSWORD), and stop it on the way out."""
        self.start()
        try:
            self.create_admin()
            yield self
        finally:
            self.stop()

    def create_admin(self, username: str = "admin") -> None:
        done = cli(
            "users",
            "create-admin",
            "--username",
            username,
            "--email",
            f"{username}@example.org",
            "--password-stdin",
            env=self._env,
            stdin=ADMIN_PASSWORD + "\n",
        )
        assert done.returncode == 0, done.stderr + done.stdout

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


def login(client: httpx.Client, username: str, password: str) -> dict[str, Any]:
    """Bearer sign-in; the client sends the token from now on."""
    r = client.post("/api/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    client.headers["Authorization"] = f"Bearer {body['access_token']}"
    return body


def register_and_approve(server: LiveServer, admin: httpx.Client, username: str) -> httpx.Client:
    """A new approved user, signed in with a bearer token."""
    password = f"{username}-long-password-1"
    c = server.client()
    r = c.post(
        "/api/register", json={"username": username, "email": f"{username}@example.org", "password": password}
    )
    assert r.status_code == 201, r.text
    assert admin.put(f"/api/admin/users/{r.json()['id']}/approve").status_code == 200
    login(c, username, password)
    return c


def upload(client: httpx.Client, path: Path, name: str | None = None) -> httpx.Response:
    with open(path, "rb") as f:
        return client.post("/api/upload", files={"file": (name or path.name, f, "application/octet-stream")})


def wait_status(
    client: httpx.Client, task_id: str, statuses: set[str], timeout: float = 180
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/status/{task_id}").json()
        if body.get("status") in statuses:
            return body
        time.sleep(0.3)
    raise AssertionError(f"task {task_id} did not reach {statuses}: {body}")


def sse_events(client: httpx.Client, task_id: str, timeout: float = 180) -> Iterator[tuple[str, str]]:
    """(event name, data) pairs of the progress stream until it ends."""
    with client.stream("GET", f"/api/progress/{task_id}", timeout=timeout) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        name, data = "message", ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data = line[5:].strip()
            elif line == "" and data:
                yield name, data
                name, data = "message", ""
