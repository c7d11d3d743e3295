"""The skip policy of tests/conftest.py: skips are listed with reasons; REQUIRE_NO_SKIPS=1 fails on any."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = """
import pytest

def test_runs():
    pass

def test_needs_a_tool():
    pytest.skip("frobnicator not installed")

@pytest.mark.xfail(reason="known bug", strict=True)
def test_known_bug():
    assert False
"""


def _pytest(folder: Path, require: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REQUIRE_NO_SKIPS"}
    if require is not None:
        env["REQUIRE_NO_SKIPS"] = require
    cmd = [sys.executable, "-m", "pytest", str(folder), "-p", "tests.conftest", "-c", os.devnull]
    cmd += ["--rootdir", str(folder), "-p", "no:cacheprovider", "-q", "-rs"]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_skips_are_listed_and_fail_the_run_only_when_required(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    relaxed = _pytest(tmp_path, None)
    assert relaxed.returncode == 0, relaxed.stdout
    assert "SKIPPED [1]" in relaxed.stdout and "test_suite.py:8: frobnicator not installed" in relaxed.stdout
    strict = _pytest(tmp_path, "1")
    assert strict.returncode == 1, strict.stdout
    assert "REQUIRE_NO_SKIPS=1: 1 skipped, so the run fails" in strict.stdout
    assert "test_suite.py::test_needs_a_tool: frobnicator not installed" in strict.stdout
    assert "test_known_bug" not in strict.stdout.split("REQUIRE_NO_SKIPS=1")[1]  # an xfail is no skip


def test_a_run_without_skips_passes_when_required(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE.replace('pytest.skip("frobnicator not installed")', "pass"))
    strict = _pytest(tmp_path, "1")
    assert strict.returncode == 0, strict.stdout
    assert "REQUIRE_NO_SKIPS" not in strict.stdout
