"""tshark helpers and the analysed capture shared by the exports tests (tshark -2, default preferences)."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import pytest

from pcap_analyzer import analyze
from pcap_analyzer.report.model import AnalysisResult

TSHARK = shutil.which("tshark")
CAPTURE = Path(__file__).resolve().parents[2] / "data" / "netns_mixed_s128.pcap"
needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")


@functools.cache
def analysed() -> AnalysisResult:
    return analyze(CAPTURE)


@functools.cache
def rows(display_filter: str, *fields: str) -> list[list[str]]:
    """`tshark -2 -Y FILTER -T fields -e frame.number -e FIELD...` on CAPTURE; fails on a bad filter."""
    cmd = [TSHARK or "tshark", "-n", "-2", "-r", str(CAPTURE), "-Y", display_filter, "-T", "fields"]
    for f in ("frame.number", *fields):
        cmd += ["-e", f]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"tshark rejected {display_filter!r}: {done.stderr.strip()}"
    return [line.split("\t") for line in done.stdout.splitlines() if line]


def frames(display_filter: str) -> set[int]:
    """Frame numbers tshark selects with the display filter."""
    return {int(r[0]) for r in rows(display_filter)}
