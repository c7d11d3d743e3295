"""analyze() on every test capture against tshark's facts (oracle.json, tshark 4.0.17 with -2)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from pcap_analyzer import analyze
from pcap_analyzer.analyzers.throughput import MIN_AVERAGE_S
from pcap_analyzer.report.base import to_data
from pcap_analyzer.report.model import AnalysisResult, Stats
from tests.conftest import CAPTURES, RCODE_NAMES

pytestmark = pytest.mark.every_corpus

# tshark calls the nanosecond variant of classic pcap "pcap-ns"; our contract names the container only
# ("pcap" | "pcapng"); the resolution is not a separate format for a reader.
FORMAT_NAMES = {"pcap-ns": "pcap"}

# (our TcpSummary field, oracle path under "tcp")
TCP_COUNTS = [
    ("conversations", ("streams",)),
    ("syn", ("syn_frames",)),
    ("syn_ack", ("synack_frames",)),
    ("resets", ("rst_frames",)),
    ("retransmissions", ("analysis", "retransmission")),
    ("fast_retransmissions", ("analysis", "fast_retransmission")),
    ("spurious_retransmissions", ("analysis", "spurious_retransmission")),
    ("out_of_order", ("analysis", "out_of_order")),
    ("lost_segments", ("analysis", "lost_segment")),
    ("ack_lost_segments", ("analysis", "ack_lost_segment")),
    ("duplicate_acks", ("analysis", "duplicate_ack")),
    ("zero_windows", ("analysis", "zero_window")),
    ("zero_window_probes", ("analysis", "zero_window_probe")),
    ("window_full", ("analysis", "window_full")),
    ("window_updates", ("analysis", "window_update")),
    ("keep_alives", ("analysis", "keep_alive")),
]


@cache
def _analyze(path: Path) -> AnalysisResult:
    return analyze(path)


def _close_count(ours: int, theirs: int) -> bool:
    """Within 1% or within 2 packets (for small counts)."""
    return abs(ours - theirs) <= max(2, 0.01 * theirs)


def _close_ms(ours: float | None, theirs_s: float | None) -> bool:
    """Within 1%, or 1 microsecond (the oracle is rounded to microseconds)."""
    if theirs_s is None:
        return ours is None
    return ours is not None and abs(ours - theirs_s * 1000) <= max(0.01 * theirs_s * 1000, 0.0011)


def _dig(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    for p in path:
        d = d[p]
    return d


@pytest.fixture(params=CAPTURES)
def case(
    request: pytest.FixtureRequest, corpus_dir: Path, oracle: dict[str, Any]
) -> tuple[AnalysisResult, dict[str, Any]]:
    return _analyze(corpus_dir / request.param), oracle[request.param]


def test_capture_facts_exact(case: tuple[AnalysisResult, dict[str, Any]]) -> None:
    r, o = case
    f, cap = o["file"], r.capture
    assert cap.format == FORMAT_NAMES.get(f["format"], f["format"])
    assert cap.file_size == f["bytes"]
    assert cap.packets == f["frames"]
    assert cap.cut_packets == f["frames_caplen_lt_len"]
    assert cap.bytes == o["throughput"]["bytes"]
    assert cap.first_ts == pytest.approx(f["first_epoch"], abs=1e-6)
    assert cap.last_ts == pytest.approx(f["last_epoch"], abs=1e-6)
    assert cap.duration_s == pytest.approx(f["duration_s"], abs=1e-6)
    cut_short = f["tshark_exit_status"] != 0
    assert cap.truncated is cut_short
    assert bool(cap.warnings) is cut_short
    assert "ETHERNET" in cap.link_types


def test_tcp_counts_match_tshark(case: tuple[AnalysisResult, dict[str, Any]]) -> None:
    r, o = case
    diffs = {
        ours: (getattr(r.tcp, ours), _dig(o["tcp"], path))
        for ours, path in TCP_COUNTS
        if not _close_count(getattr(r.tcp, ours), _dig(o["tcp"], path))
    }
    assert diffs == {}, "field: (ours, tshark)"
    assert r.tcp.payload_bytes == o["tcp"]["payload_bytes"]
    assert r.tcp.unanswered_connections == o["tcp"]["handshake_delay_s"]["streams_syn_without_synack"]


def _check_stats(ours: Stats, theirs: dict[str, Any], keys: tuple[str, ...]) -> None:
    assert _close_count(ours.count, theirs["count"]), (ours.count, theirs["count"])
    for k in keys:
        assert _close_ms(getattr(ours, k), theirs[k]), (k, getattr(ours, k), theirs[k])


def test_tcp_timing_matches_tshark(case: tuple[AnalysisResult, dict[str, Any]]) -> None:
    r, o = case
    _check_stats(r.tcp.ack_rtt_ms, o["tcp"]["ack_rtt_s"], ("median", "p95", "max"))
    _check_stats(r.tcp.handshake_ms, o["tcp"]["handshake_delay_s"], ("median", "p95"))
    _check_stats(r.tcp.initial_rtt_ms, o["tcp"]["initial_rtt_s"], ("median", "p95"))


def test_dns_matches_tshark(case: tuple[AnalysisResult, dict[str, Any]]) -> None:
    r, o = case
    dns, od = r.dns, o["dns"]
    assert _close_count(dns.queries, od["queries"])
    assert _close_count(dns.responses, od["responses"])
    # Deliberate difference: tshark counts every query *frame* without dns.response_in, so a query sent
    # three times without answer counts 3; we count unanswered *transactions* (what a user waited for)
    # and report the retransmitted query frames apart. tshark 4.0 also matches on (conversation, id) only,
    # so a new query for another name reusing the id of an unanswered one is its "retransmission"; we
    # compare the question too (never more retransmissions), and each such merge moves at most one query
    # between the two counts. Queries younger than dns_timeout_s at the end are pending, not unanswered.
    merged = od["retransmitted_queries"] - dns.retransmitted_queries
    assert merged >= 0
    waiting = dns.unanswered + dns.pending_at_end
    assert abs(waiting - od["unanswered_queries_excluding_retransmissions"]) <= merged
    # tshark's own figure, by its own matching: exact
    assert dns.unanswered_query_frames == od["unanswered_queries"]
    assert dns.rcodes == {RCODE_NAMES.get(k, k): v for k, v in od["rcodes"].items()}
    _check_stats(dns.response_time_ms, od["time_s"], ("median", "p95"))


def test_talkers_and_conversations_exact(case: tuple[AnalysisResult, dict[str, Any]]) -> None:
    r, o = case
    ours = {t.address: (t.bytes, t.packets) for t in r.top_talkers}
    for t in o["top_talkers"]:
        assert ours.get(t["address"]) == (t["bytes"], t["frames"]), t
    assert [t.bytes for t in r.top_talkers[: len(o["top_talkers"])]] == [t["bytes"] for t in o["top_talkers"]]
    convs = {frozenset((c.a, c.b)): (c.bytes, c.packets) for c in r.conversations}
    for c in o["top_conversations"]:
        pair = frozenset(c["pair"].split(" <-> "))
        assert convs.get(pair) == (c["bytes"], c["frames"]), c


def test_throughput_matches_tshark(case: tuple[AnalysisResult, dict[str, Any]]) -> None:
    r, o = case
    t = o["throughput"]
    assert r.throughput.bytes == t["bytes"]
    if r.throughput.duration_s < MIN_AVERAGE_S:  # no average over a near-zero duration (tshark divides)
        assert r.throughput.bits_per_s is None
    else:
        assert r.throughput.bits_per_s == pytest.approx(t["bits_per_s"], rel=1e-5)
    assert r.throughput.max_1s_bits_per_s == pytest.approx(t["max_1s_bits_per_s"], rel=1e-9)


def test_truncated_capture_keeps_everything_before_the_cut(corpus_dir: Path, oracle: dict[str, Any]) -> None:
    r = _analyze(corpus_dir / "netns_mixed_truncated.pcap")
    assert r.capture.truncated and r.capture.warnings
    w = r.capture.warnings[0]
    assert w.packet_index == oracle["netns_mixed_truncated.pcap"]["file"]["frames"]
    assert 0 < w.offset < (corpus_dir / "netns_mixed_truncated.pcap").stat().st_size
    assert any(h.code == "capture.truncated" for h in r.health.reasons)


def test_same_packets_same_analysis_in_every_format(corpus_dir: Path) -> None:
    base = _analyze(corpus_dir / "netns_mixed_s128.pcap")
    for other in ("netns_mixed.pcapng", "netns_mixed_nsec.pcap"):
        r = _analyze(corpus_dir / other)
        assert r.tcp == base.tcp
        assert to_data(r.dns) == to_data(base.dns)
        assert r.health == base.health
