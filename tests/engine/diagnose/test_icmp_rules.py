"""Findings of rules_icmp on the ICMP capture (truth by construction, see tests/data/icmp/make_captures.py)
and their evidence rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcap_analyzer.api import analyze
from pcap_analyzer.report.model import AnalysisResult, Finding

CAPTURE = Path(__file__).resolve().parents[2] / "data" / "icmp" / "icmp_netns.pcap"


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return analyze(CAPTURE, config={"idle_threshold_s": 2})


def _one(result: AnalysisResult, fid: str) -> Finding:
    (f,) = [f for f in result.findings if f.id == fid]
    return f


def test_black_hole_is_a_warning_naming_the_connection(result: AnalysisResult) -> None:
    f = _one(result, "tcp.pmtu_black_hole")
    (suspect,) = result.tcp_waits.black_hole_suspects
    assert f.severity == "warning" and f.evidence.streams == [suspect.stream]
    assert "10.78.2.1:5007" in f.title


def test_zero_window_stall_share_is_a_warning(result: AnalysisResult) -> None:
    f = _one(result, "tcp.window_stall")
    (c,) = result.tcp_waits.stalls
    assert f.severity == "warning" and f.evidence.streams == [c.stream]
    assert f"{c.stalled_pct:.0f}%" in f.title
    # over the configured share only
    assert not [
        f for f in analyze(CAPTURE, config={"stall_share_pct": 90}).findings if f.id == "tcp.window_stall"
    ]


def test_unreachables_are_counted_and_need_evidence(result: AnalysisResult) -> None:
    f = _one(result, "icmp.unreachable")
    assert f.severity == "warning" and f.title.startswith(
        f"{result.icmp.unreachable} ICMP destination-unreachable"
    )
    assert f.evidence.frames == result.icmp.error_frames["unreachable"]
    strict = analyze(CAPTURE, config={"min_evidence_events": 1000})
    assert _one(strict, "icmp.unreachable").severity == "info"
    assert _one(strict, "tcp.window_stall").severity == "info"


def test_info_findings_for_pmtu_idle_open_and_syn_timing(result: AnalysisResult) -> None:
    for fid in (
        "icmp.fragmentation_needed",
        "tcp.idle",
        "tcp.never_closed",
        "tcp.syn_timing",
        "icmp.redirect",
    ):
        assert _one(result, fid).severity == "info", fid
    assert "1280" in _one(result, "icmp.fragmentation_needed").title
    assert "3 connections never closed" in _one(result, "tcp.never_closed").title


def test_findings_stay_ranked(result: AnalysisResult) -> None:
    rank = {"critical": 0, "warning": 1, "info": 2}
    keys = [(rank[f.severity], -f.impact) for f in result.findings]
    assert keys == sorted(keys)
