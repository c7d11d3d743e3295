"""Shared fixtures: the test captures in tests/data with tshark's facts, optionally an extra corpus."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# CI explores a fixed set of examples (HYPOTHESIS_PROFILE=ci) so a run is reproducible; locally every run
# tries new ones.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

DATA_DIR = Path(__file__).resolve().parent / "data"
# The project's own captures (tests/data/make_captures.py) and tshark's facts about them (make_oracle.py).
CAPTURES = sorted(p.name for p in DATA_DIR.glob("*.pcap*"))
# An extra corpus with captures of the same names, checked too by the tests marked `every_corpus` when it
# is there with its oracle.json: ../shared/corpus beside the project, or PCAP_CORPUS_DIR.
EXTRA_CORPUS_DIR = Path(os.environ.get("PCAP_CORPUS_DIR", DATA_DIR.parents[2] / "shared" / "corpus"))
# oracle.json gives DNS rcodes as numbers; their names, written here apart from the engine's own table.
_RCODES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED")
RCODE_NAMES = {str(code): name for code, name in enumerate(_RCODES)}


def corpora() -> list[Path]:
    """tests/data, then the extra corpus when it holds oracle.json and a capture of each name."""
    extra = EXTRA_CORPUS_DIR
    complete = (extra / "oracle.json").is_file() and all((extra / name).is_file() for name in CAPTURES)
    return [DATA_DIR, extra] if complete and extra.resolve() != DATA_DIR else [DATA_DIR]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `every_corpus` run on each corpus, with ids "data" and "extra"."""
    if "corpus_dir" in metafunc.fixturenames and metafunc.definition.get_closest_marker("every_corpus"):
        found = corpora()
        ids = ["data", "extra"][: len(found)]
        metafunc.parametrize("corpus_dir", found, ids=ids, indirect=True, scope="session")


@pytest.fixture(scope="session")
def corpus_dir(request: pytest.FixtureRequest) -> Path:
    """The folder of the test captures: tests/data, or the extra corpus for `every_corpus` tests."""
    return getattr(request, "param", DATA_DIR)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def oracle(corpus_dir: Path) -> dict[str, Any]:
    """tshark's facts for each capture of `corpus_dir` (oracle.json -> captures)."""
    data: dict[str, Any] = json.loads((corpus_dir / "oracle.json").read_text())
    return data["captures"]  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------------------- no silent skips
# pytest prints every skip with its reason (-rs in addopts). With REQUIRE_NO_SKIPS=1 (CI: .ci/run) a run
# in which any test was skipped fails: there, tshark, Chromium, PostgreSQL and the captures are all present.
_SKIPPED: list[tuple[str, str]] = []


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPPED.append((report.nodeid, _skip_reason(report)))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:
        _SKIPPED.append((report.nodeid, _skip_reason(report)))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("REQUIRE_NO_SKIPS") == "1" and _SKIPPED and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if os.environ.get("REQUIRE_NO_SKIPS") == "1" and _SKIPPED:
        terminalreporter.section(f"REQUIRE_NO_SKIPS=1: {len(_SKIPPED)} skipped, so the run fails", red=True)
        for nodeid, reason in _SKIPPED:
            terminalreporter.line(f"{nodeid}: {reason}", red=True)
