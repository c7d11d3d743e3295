"""A working Docker engine for the image tests, and a local stand-in for the Dockerfile's base image.

No registry is reachable from the test machines, so `python:3.11-slim-bookworm` cannot be pulled. The
stand-in is Debian bookworm (debootstrap from the mirror in the host's apt sources) with Debian's Python
3.11, pip and venv, linked into /usr/local/bin where the official image keeps its Python. It trusts the
host's CA bundle so pip reaches PyPI through this machine's TLS set-up. None of this is in the Dockerfile,
which builds unchanged against the official image elsewhere.

Docker unavailable: the tests skip, or fail when REQUIRE_DOCKER=1 (CI, see .ci/run).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

BASE_IMAGE = "python:3.11-slim-bookworm"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DOCKERD_LOG = Path(tempfile.gettempdir()) / "pcap-analyzer-dockerd.log"

# What the stand-in adds on top of debootstrap's minbase: Python as the official image has it (headers and
# distutils are part of the official image's Python), and CA certificates.
_STANDIN_PACKAGES = [
    "python3",
    "python3-pip",
    "python3-venv",
    "python3-dev",
    "python3-distutils",
    "ca-certificates",
]
_STANDIN_DOCKERFILE = """\
FROM {rootfs_tag}
COPY host-ca.crt /usr/local/share/ca-certificates/host-ca.crt
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \\
 && apt-get install -y -qq --no-install-recommends {packages} \\
 && update-ca-certificates \\
 && rm -rf /var/lib/apt/lists/* \\
 && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED \\
 && for name in python python3 python3.11; do ln -sf /usr/bin/python3.11 /usr/local/bin/$name; done \\
 && for name in pip pip3 pip3.11; do ln -sf /usr/bin/pip3 /usr/local/bin/$name; done
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LANG=C.UTF-8 \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \\
    PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    PIP_DEFAULT_TIMEOUT=180
CMD ["python3"]
"""


def docker_unavailable(reason: str) -> None:
    """Skip the calling test, or fail it when REQUIRE_DOCKER=1."""
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail(f"REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    pytest.skip(f"{reason} (REQUIRE_DOCKER=1 makes this a failure)")


def docker(
    *args: str, timeout: float = 120, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the docker client; with `check`, a failure raises with its output."""
    done = subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args[:3])} ... failed ({done.returncode}):\n{done.stderr[-4000:]}"
        )
    return done


def _engine_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def ensure_docker() -> None:
    """Make sure a Docker engine answers, starting `dockerd` in the background (as root) if needed."""
    if shutil.which("docker") is None:
        docker_unavailable("the docker client is not installed (apt-get install docker.io)")
    if _engine_answers():
        return
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        docker_unavailable("no Docker engine answers and dockerd cannot be started here (needs root)")
    with open(DOCKERD_LOG, "ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _engine_answers():
            return
        time.sleep(1)
    docker_unavailable(f"dockerd did not come up within 60 s (log: {DOCKERD_LOG})")


def image_exists(tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


def debian_mirror() -> str:
    """The Debian mirror named in the host's apt sources (deb822 or one-line format)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for match in re.finditer(r"(?:^URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.MULTILINE):
            uri = match.group(1).rstrip("/")
            if uri.endswith("/debian"):
                return uri
    return "http://deb.debian.org/debian"


def ensure_base_image(log: Path) -> float:
    """Build the stand-in for BASE_IMAGE unless the tag exists; returns the seconds spent (0 if cached)."""
    if image_exists(BASE_IMAGE):
        return 0.0
    if shutil.which("debootstrap") is None:
        docker_unavailable(f"{BASE_IMAGE} is missing and debootstrap is not installed to build a stand-in")
    started = time.monotonic()
    rootfs_tag = "pcap-analyzer-test/bookworm-minbase:latest"
    with tempfile.TemporaryDirectory(prefix="pcap-analyzer-standin-") as tmp:
        work = Path(tmp)
        if not image_exists(rootfs_tag):
            rootfs = work / "rootfs"
            with open(log, "ab") as out:
                subprocess.run(
                    ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), debian_mirror()],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=900,
                )
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            subprocess.run(
                ["docker", "import", "-", rootfs_tag], stdin=tar.stdout, check=True, capture_output=True
            )
            assert tar.wait() == 0
            shutil.rmtree(rootfs, ignore_errors=True)
        shutil.copyfile(HOST_CA_BUNDLE, work / "host-ca.crt")
        (work / "Dockerfile").write_text(
            _STANDIN_DOCKERFILE.format(rootfs_tag=rootfs_tag, packages=" ".join(_STANDIN_PACKAGES))
        )
        build = subprocess.run(
            ["docker", "build", "--force-rm", "--network", "host", "-t", BASE_IMAGE, str(work)],
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
            capture_output=True,
            text=True,
            timeout=900,
        )
        with open(log, "a") as out:
            out.write(build.stdout + build.stderr)
        assert build.returncode == 0, build.stderr[-4000:]
    return time.monotonic() - started
