"""Schemathesis (`st run`) on the live OpenAPI schema, as a signed-in user and as an administrator (so the
admin endpoints are exercised too): no 500, no schema violation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.app.e2e.server import ADMIN_PASSWORD, LiveServer, login, register_and_approve

ST = Path(sys.executable).with_name("st")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("role", ["user", "admin"])
def test_schemathesis_finds_no_server_error(
    server: LiveServer, admin: httpx.Client, tmp_path: Path, role: str
) -> None:
    st = str(ST) if ST.exists() else shutil.which("st")
    if st is None:
        pytest.skip("schemathesis is not installed")
    if role == "user":
        user = register_and_approve(server, admin, "fuzzer")
    else:  # a second administrator, so the fixture's own admin session survives whatever the fuzzer does
        server.create_admin("fuzzadmin")
        user = server.client()
        login(user, "fuzzadmin", ADMIN_PASSWORD)
    done = subprocess.run(
        [
            st,
            "run",
            f"{server.url}/openapi.json",
            "--header",
            f"Authorization: {user.headers['Authorization']}",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--max-examples",
            "20",
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--seed",
            "20261124",
            "--generation-database",
            "none",
            "--exclude-path-regex",
            "^/api/progress/",
        ],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
