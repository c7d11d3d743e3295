"""The engine's measurement scripts run on a test capture and report every stage of the pipeline.

They reach into the pipeline (benchmarks/stage_times.py wraps its stages by their private names), so a
rename in pcap_analyzer/api.py must show up here rather than when someone next measures.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pcap_analyzer.api import _Pipeline
from pcap_analyzer.config import AnalysisConfig

ROOT = Path(__file__).resolve().parents[2]
CAPTURE = ROOT / "tests" / "data" / "netns_mixed_s128.pcap"


def _run(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_stage_times_names_every_stage_of_both_threads() -> None:
    out = _run("benchmarks/stage_times.py", str(CAPTURE), "--runs", "1")
    pipeline = _Pipeline(AnalysisConfig())
    analyzers = {type(a).__name__ for a in (*pipeline.early, *pipeline.late)}
    stages = dict(re.findall(r"^  (\S.*?)\s+(\d+\.\d) ms$", out, re.M))
    assert set(stages) == analyzers | {
        "read",
        "decode",
        "flow assignment",
        "IP reassembly",
        "DNS over TCP",
        "capture facts",
        "TCP analysis",
    }
    # the capture is mostly TCP: its analysis and the decoding cannot take no time at all
    assert float(stages["TCP analysis"]) > 0 and float(stages["decode"]) > 0
    sides = dict(re.findall(r"^(read-ahead thread|caller's thread): (\d+) ms$", out, re.M))
    assert set(sides) == {"read-ahead thread", "caller's thread"}
    assert re.search(
        r"^reading phase: \d+\.\d{3} s in one thread, \d+\.\d{3} s as the engine runs it", out, re.M
    )
    assert "a gain of at most" in out


def test_startup_measure_prints_the_figure_and_its_floor(tmp_path: Path) -> None:
    out = _run("benchmarks/bench_engine.py", "--startup", "--startup-runs", "1", "--workdir", str(tmp_path))
    figure = re.search(r"start-up \(demo\.pcap, .*\): (\d+\.\d+) s wall", out)
    floor = re.search(r"bare interpreter (\d+\.\d+) s, the interpreter importing NumPy (\d+\.\d+) s", out)
    assert figure and floor, out
    assert 0 < float(floor[1]) < float(figure[1])
    assert (tmp_path / "tiny.json").stat().st_size > 0
