"""Stalled windows, idle and never-closed connections, SYN retry timing (`tcp_waits`) against tshark
(tests/data/icmp/oracle.json): counts exact, durations within 1 % or 0.05 ms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pcap_analyzer.api import analyze
from pcap_analyzer.report.model import AnalysisResult

ICMP_DIR = Path(__file__).resolve().parents[2] / "data" / "icmp"
CAPTURE = ICMP_DIR / "icmp_netns.pcap"
IDLE_S = 2.0


def close(got: float, want_ms: float) -> bool:
    return abs(got - want_ms) <= max(0.05, 0.01 * abs(want_ms))


@pytest.fixture(scope="module")
def oracle() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ICMP_DIR / "oracle.json").read_text())
    return data


@pytest.fixture(scope="module")
def streams(oracle: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(k): v for k, v in oracle["captures"]["icmp_netns.pcap"]["tcp_streams"].items()}


@pytest.fixture(scope="module")
def result(oracle: dict[str, Any]) -> AnalysisResult:
    return analyze(
        CAPTURE, config={"idle_threshold_s": IDLE_S, "low_window_bytes": oracle["low_window_bytes"]}
    )


def test_zero_window_stalls_match_tshark(result: AnalysisResult, streams: dict[int, dict[str, Any]]) -> None:
    w = result.tcp_waits
    expected = {s: v for s, v in streams.items() if v["stall_ns"] > 0}
    assert expected, "the capture has a slow reader"
    assert {c.stream for c in w.stalls if c.stalled_ms > 0} == set(expected)
    assert w.stalled_connections == len(expected)
    for c in w.stalls:
        t = streams[c.stream]
        assert c.stalls == t["stalls"]
        assert close(c.stalled_ms, t["stall_ns"] / 1e6)
        assert close(c.longest_stall_ms, t["longest_stall_ns"] / 1e6)
        assert close(c.low_window_ms, t["low_window_ns"] / 1e6)
        duration_s = (t["last_ns"] - t["first_ns"]) / 1e9
        assert c.stalled_pct == pytest.approx(100 * t["stall_ns"] / 1e9 / duration_s, rel=0.01)
        assert c.zero_window_by == "server"  # the slow reader is the server (make_captures.py)
    assert result.tcp.zero_windows == sum(v["zero_windows"] for v in streams.values())
    assert result.tcp.window_updates == sum(v["window_updates"] for v in streams.values())


def test_low_window_time_matches_tshark(result: AnalysisResult, streams: dict[int, dict[str, Any]]) -> None:
    expected = {s for s, v in streams.items() if v["low_window_ns"] > 0}
    assert {c.stream for c in result.tcp_waits.stalls if c.low_window_ms > 0} == expected
    assert result.tcp_waits.low_window_connections == len(expected)


def test_idle_connections_match_tshark(result: AnalysisResult, streams: dict[int, dict[str, Any]]) -> None:
    expected = {s: v["longest_idle_ns"] for s, v in streams.items() if v["longest_idle_ns"] >= IDLE_S * 1e9}
    assert len(expected) >= 2  # the idle connection and the black-hole upload
    assert {c.stream: c for c in result.tcp_waits.idle}.keys() == expected.keys()
    assert result.tcp_waits.idle_connections == len(expected)
    for c in result.tcp_waits.idle:
        assert close(c.longest_idle_s * 1e3, expected[c.stream] / 1e6)
        assert c.closed == streams[c.stream]["closed"]
    gaps = [c.longest_idle_s for c in result.tcp_waits.idle]
    assert gaps == sorted(gaps, reverse=True)


def test_never_closed_connections_match_tshark(
    result: AnalysisResult, streams: dict[int, dict[str, Any]]
) -> None:
    expected = {s: v for s, v in streams.items() if not v["closed"]}
    assert len(expected) == 3  # the dropped SYNs, the idle connection, the black-hole upload
    w = result.tcp_waits
    assert w.never_closed_connections == len(expected)
    assert {c.stream for c in w.never_closed} == set(expected)
    end_ns = max(v["last_ns"] for v in streams.values())
    end = result.capture.first_ts + result.capture.duration_s
    for c in w.never_closed:
        assert close(c.last_ts * 1e3, expected[c.stream]["last_ns"] / 1e6)
        assert close(c.idle_at_end_s * 1e3, (end * 1e9 - expected[c.stream]["last_ns"]) / 1e6)
        assert end * 1e9 >= end_ns - 1e3


def test_syn_retransmission_intervals_match_tshark(
    result: AnalysisResult, streams: dict[int, dict[str, Any]]
) -> None:
    expected = {s: v["syn_intervals_ns"] for s, v in streams.items() if v["syn_intervals_ns"]}
    w = result.tcp_waits
    assert w.syn_retry_connections == len(expected) == 1
    (row,) = w.syn_retries
    want = expected[row.stream]
    assert row.syns == len(want) + 1
    assert len(row.intervals_ms) == len(want)
    assert all(close(g, t / 1e6) for g, t in zip(row.intervals_ms, want, strict=True))
    assert row.expected_ms[:3] == [1000.0, 2000.0, 4000.0]
    assert not row.answered


def test_linear_syn_timeouts_differ_from_rfc6298(result: AnalysisResult) -> None:
    # Linux >= 6.7 retransmits the first SYNs every ~1 s (tcp_syn_linear_timeouts), not 1, 2, 4 s
    (row,) = result.tcp_waits.syn_retries
    assert not row.rfc6298
    assert result.tcp_waits.syn_retry_nonstandard == 1
    loose = analyze(CAPTURE, config={"syn_rto_tolerance_pct": 1000})
    assert loose.tcp_waits.syn_retries[0].rfc6298


def test_black_hole_upload_is_suspected(result: AnalysisResult, streams: dict[int, dict[str, Any]]) -> None:
    # by construction: the router drops the client's packets over 600 bytes to port 5007, without ICMP
    (s,) = result.tcp_waits.black_hole_suspects
    assert s.receiver == "10.78.2.1:5007"
    t = streams[s.stream]["segments"][s.sender.rsplit(":", 1)[1]]
    assert (s.large_segments, s.large_retransmissions) == (t["large"], t["large_retransmissions"])
    assert (s.small_segments, s.small_retransmissions) == (t["small"], t["small_retransmissions"])
    assert s.large_retransmissions >= 3 and s.small_segments >= 1 and s.small_retransmissions == 0
    others = [c for c in result.connections if c.stream != s.stream]
    assert all(c.server_port != 5007 for c in others)


def test_the_mixed_capture_matches_tshark_over_every_connection(oracle: dict[str, Any]) -> None:
    """~330 connections (tests/data/netns_mixed_s128.pcap): every listed figure against tshark's."""
    truth = {int(k): v for k, v in oracle["captures"]["netns_mixed_s128.pcap"]["tcp_streams"].items()}
    cfg = {
        "idle_threshold_s": 0.1,
        "low_window_bytes": oracle["low_window_bytes"],
        "max_connections": 100_000,
    }
    w = analyze(ICMP_DIR.parent / "netns_mixed_s128.pcap", config=cfg).tcp_waits
    assert w.stalled_connections == sum(v["stall_ns"] > 0 for v in truth.values()) > 0
    assert w.low_window_connections == sum(v["low_window_ns"] > 0 for v in truth.values()) > 0
    for c in w.stalls:
        t = truth[c.stream]
        assert c.stalls == t["stalls"]
        assert close(c.stalled_ms, t["stall_ns"] / 1e6) and close(c.low_window_ms, t["low_window_ns"] / 1e6)
        assert close(c.longest_stall_ms, t["longest_stall_ns"] / 1e6)
    idle = {s: v["longest_idle_ns"] for s, v in truth.items() if v["longest_idle_ns"] >= 0.1e9}
    assert {c.stream for c in w.idle} == idle.keys() and len(idle) > 3
    assert all(close(c.longest_idle_s * 1e3, idle[c.stream] / 1e6) for c in w.idle)
    assert {c.stream for c in w.never_closed} == {s for s, v in truth.items() if not v["closed"]}
    assert w.syn_retry_connections == sum(bool(v["syn_intervals_ns"]) for v in truth.values())
