"""The Docker image and compose file, for real (marker `docker`; .ci/run runs them with REQUIRE_DOCKER=1).

The image is built from the repository's Dockerfile with the classic builder on top of a local stand-in for
its base image (tests/deploy/docker_support.py), then run with host networking against the host's
PostgreSQL: healthcheck, the admin command through `docker exec`, a user's journey over HTTP, a non-root
process, `alembic` inside the image; a worker container shares the queue with host worker processes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.app.e2e.server import (
    ADMIN_PASSWORD,
    ROOT,
    LiveServer,
    free_port,
    login,
    register_and_approve,
    upload,
)
from tests.deploy.docker_support import docker, ensure_base_image, ensure_docker
from tests.deploy.scale import LEASE_ENV, Worker, host_worker, run_scale_out, shared_umask, udp_capture

pytestmark = pytest.mark.docker
IMAGE = "pcap-analyzer:test"
UID = 10001  # the image's user (Dockerfile)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The image built from the Dockerfile (the base image stand-in built first if missing)."""
    ensure_docker()
    log = tmp_path_factory.mktemp("docker") / "build.log"
    base_s = ensure_base_image(log)
    started = time.monotonic()
    build = subprocess.run(
        ["docker", "build", "--force-rm", "--network", "host", "-t", IMAGE, str(ROOT)],
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    build_s = time.monotonic() - started
    with open(log, "a") as out:
        out.write(build.stdout + build.stderr)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    size = int(docker("image", "inspect", "-f", "{{.Size}}", IMAGE).stdout.strip())
    print(
        f"\nimage {IMAGE}: built in {build_s:.0f} s, {size / 1e6:.0f} MB"
        + (f"; base image stand-in built in {base_s:.0f} s" if base_s else " (base image cached)")
    )
    yield IMAGE


@dataclass
class ContainerServer:
    """The web service running in a container on the host network."""

    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def logs(self) -> str:
        done = docker("logs", self.name, check=False)
        return (done.stdout + done.stderr)[-5000:]


def _wait_healthy(name: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = json.loads(docker("inspect", "-f", "{{json .State}}", name).stdout)
        assert state["Running"], docker("logs", name, check=False).stderr[-3000:]
        if state.get("Health", {}).get("Status") == "healthy":
            return
        time.sleep(1)
    raise AssertionError(f"{name} not healthy: {state.get('Health')}\n{docker('logs', name).stderr[-3000:]}")


@pytest.fixture
def container(image: str, postgres_url: str) -> Iterator[ContainerServer]:
    """The image's default command (migrate, serve) on a free port, a fresh database, a temp volume."""
    name = f"pcap-analyzer-test-{secrets.token_hex(4)}"
    volume = docker("volume", "create").stdout.strip()
    port = free_port()
    docker(
        "run", "-d", "--name", name, "--network", "host",
        "--health-interval", "2s", "--health-start-period", "120s",
        "-e", f"DATABASE_URL={postgres_url}", "-e", f"SECRET_KEY={secrets.token_hex(32)}",
        "-e", f"PORT={port}", "-e", "WORKER_CONCURRENCY=1",
        "-v", f"{volume}:/data", image,
    )  # fmt: skip
    try:
        yield ContainerServer(name, port)
    finally:
        docker("rm", "-f", "-v", name, check=False)
        docker("volume", "rm", volume, check=False)


@pytest.mark.postgres
def test_image_serves_migrates_and_analyses(container: ContainerServer, tmp_path: Path) -> None:
    _wait_healthy(container.name)

    # The process tree runs as the image's user, never root.
    top = docker("top", container.name, "-eo", "uid,pid,args").stdout.splitlines()[1:]
    assert top and all(int(line.split()[0]) == UID for line in top), top

    # The PostgreSQL guide's commands work inside the image (alembic.ini in the working directory).
    assert docker("exec", container.name, "alembic", "upgrade", "head").returncode == 0
    current = docker("exec", container.name, "alembic", "current").stdout
    heads = docker("exec", container.name, "alembic", "heads").stdout.split()
    assert heads and heads[0] in current, (current, heads)
    mode = docker("exec", container.name, "python", "-c", "from pcap_analyzer import jit; print(jit.MODE)")
    assert mode.stdout.strip() == "aot"  # the kernels compiled in the build stage are used

    done = docker(
        "exec", "-i", container.name, "pcap-analyzer", "users", "create-admin",
        "--username", "admin", "--email", "admin@example.org", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    assert "created" in done.stdout, done.stdout + done.stderr
    admin = container.client()
    login(admin, "admin", ADMIN_PASSWORD)
    assert admin.get("/api/health").json()["worker"] == "alive"
    user = register_and_approve(container, admin, "dockeruser")  # type: ignore[arg-type]
    packets = 4321
    capture = udp_capture(tmp_path / "known.pcap", packets, seed=7)
    r = upload(user, capture)
    assert r.status_code in (200, 201, 202), r.text
    task_id = r.json()["task_id"]
    deadline, status = time.monotonic() + 180, {}
    while time.monotonic() < deadline:
        status = user.get(f"/api/status/{task_id}").json()
        if status.get("status") in ("completed", "failed"):
            break
        time.sleep(0.5)
    assert status.get("status") == "completed", (status, container.logs())
    report = user.get(f"/api/reports/{task_id}/json")
    assert report.status_code == 200, report.text[:500]
    assert report.json()["capture"]["packets"] == packets
    html = user.get(f"/api/reports/{task_id}/html")
    assert html.status_code == 200 and "<html" in html.text.lower()


def container_worker(image: str, server: LiveServer, data_dir: Path) -> Worker:
    """`pcap-analyzer worker` in a container from the image, sharing the host's DATA_DIR at the same path."""
    name = f"pcap-analyzer-worker-{secrets.token_hex(4)}"
    env = {k: v for k, v in server._env.items() if k in ("DATABASE_URL", "SECRET_KEY")} | LEASE_ENV
    env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
    docker(
        "run", "-d", "--name", name, "--network", "host", "--no-healthcheck",
        *env_args, "-e", f"DATA_DIR={data_dir}", "-v", f"{data_dir}:{data_dir}",
        image, "pcap-analyzer", "worker", "--concurrency", "1",
    )  # fmt: skip

    def log() -> str:
        done = docker("logs", name, check=False)
        return done.stdout + done.stderr

    def stop() -> None:
        docker("rm", "-f", "-v", name, check=False)

    return Worker(f"container {name}", log, lambda: docker("kill", "-s", "KILL", name), stop)


@pytest.mark.postgres
def test_worker_container_and_processes_share_the_queue(
    image: str, postgres_url: str, tmp_path: Path, scale_captures: list[tuple[Path, int]]
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o777)
    data_dir.chmod(0o777)
    server = LiveServer(
        postgres_url,
        data_dir,
        extra_env={"WORKER_ENABLED": "false", "MAX_PENDING_TASKS_PER_USER": "50", **LEASE_ENV},
    )
    with shared_umask():
        server.start()
    workers: list[Worker] = []
    try:
        workers = [
            host_worker(server, tmp_path / "worker-0.log"),
            host_worker(server, tmp_path / "worker-1.log"),
        ]
        workers.append(container_worker(image, server, data_dir))
        result = run_scale_out(server, postgres_url, workers, scale_captures)
        print(f"\nscale-out with a worker container: retry {result.retry_delay_s:.1f} s after SIGKILL")
    finally:
        for worker in workers:
            worker.stop()
        server.stop()


@pytest.mark.postgres
def test_compose_app_command_runs_in_the_image(image: str, postgres_url: str) -> None:
    """The compose file's (and PostgreSQL guide's) `alembic upgrade head && uvicorn app.main:app ...` command
    works in the image's working directory (on a free port instead of 8000: host networking)."""
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["app"]["command"]
    assert "--port 8000" in command
    port = free_port()
    name = f"pcap-analyzer-compose-cmd-{secrets.token_hex(4)}"
    docker(
        "run", "-d", "--name", name, "--network", "host", "--no-healthcheck",
        "-e", f"DATABASE_URL={postgres_url}", "-e", f"SECRET_KEY={secrets.token_hex(32)}",
        image, "sh", "-c", command.replace("--port 8000", f"--port {port}"),
    )  # fmt: skip
    try:
        deadline, health = time.monotonic() + 120, None
        while time.monotonic() < deadline and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.5)
        logs = docker("logs", name, check=False)
        assert health is not None and health.status_code == 200, logs.stdout + logs.stderr[-3000:]
        heads = docker("exec", name, "alembic", "heads").stdout.split()
        assert heads and heads[0] in docker("exec", name, "alembic", "current").stdout
    finally:
        docker("rm", "-f", "-v", name, check=False)


def test_compose_file_validates(tmp_path: Path) -> None:
    if shutil.which("docker-compose") is None:
        from tests.deploy.docker_support import docker_unavailable

        docker_unavailable("docker-compose is not installed (apt-get install docker-compose)")
    env = {
        **os.environ,
        "POSTGRES_PASSWORD": "pw-" + secrets.token_hex(8),
        "SECRET_KEY": secrets.token_hex(32),
    }
    env_file = tmp_path / "empty.env"  # not the developer's .env
    env_file.write_text("")
    compose = ["docker-compose", "--project-directory", str(ROOT), "--env-file", str(env_file)]
    cmd = [*compose, "-f", str(ROOT / "docker-compose.yml"), "config"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    services = config["services"]
    assert services["postgres"]["image"] == "postgres:15-alpine"
    assert "healthcheck" in services["postgres"]
    url = f"postgresql://pcap_user:{env['POSTGRES_PASSWORD']}@postgres:5432/pcap_analyzer"
    for name in ("app", "worker"):
        assert services[name]["environment"]["DATABASE_URL"] == url
        assert services[name]["environment"]["SECRET_KEY"] == env["SECRET_KEY"]
        assert services[name]["volumes"][0].startswith("pcap_data:/data")
    assert "alembic upgrade head" in services["app"]["command"]
    assert "uvicorn app.main:app --host 0.0.0.0 --port 8000" in services["app"]["command"]
    assert services["worker"]["command"] == "pcap-analyzer worker"
    assert (
        "replicas" not in str(services["worker"]) and "container_name" not in services["worker"]
    )  # scalable
    # A missing secret stops compose with a message instead of starting with an empty key.
    del env["SECRET_KEY"]
    missing = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert missing.returncode != 0 and "SECRET_KEY" in missing.stderr
