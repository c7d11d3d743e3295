"""TcpAnalyzer on the corpus against tshark's oracle (counts, handshake, ACK RTT, initial RTT, RTO).

Input columns come from our own decode + flows stages when they are importable; until then (and as
a cross-check of the TCP stage alone) from tshark's decoded fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pcap_analyzer.tcp.analyzer import TcpAnalyzer
from pcap_analyzer.tcp.model import TcpAnalysis as A
from pcap_analyzer.tcp.report import TcpReport
from pcap_analyzer.tcp.state import D_RST
from tests.engine.tcp.tshark_tables import TSHARK, TSHARK_BITS, tshark_analysis, tshark_tables

pytestmark = pytest.mark.every_corpus

FILES = ["netns_mixed_s128.pcap", "netns_mixed.pcapng", "netns_mixed_nsec.pcap", "netns_mixed_truncated.pcap"]
FLAGS = {
    "retransmission": A.RETRANSMISSION, "fast_retransmission": A.FAST_RETRANSMISSION,
    "spurious_retransmission": A.SPURIOUS_RETRANSMISSION, "duplicate_ack": A.DUPLICATE_ACK,
    "zero_window": A.ZERO_WINDOW, "window_full": A.WINDOW_FULL, "keep_alive": A.KEEP_ALIVE,
    "keep_alive_ack": A.KEEP_ALIVE_ACK, "out_of_order": A.OUT_OF_ORDER, "lost_segment": A.LOST_SEGMENT,
    "ack_lost_segment": A.ACK_LOST_SEGMENT, "zero_window_probe": A.ZERO_WINDOW_PROBE,
    "zero_window_probe_ack": A.ZERO_WINDOW_PROBE_ACK, "window_update": A.WINDOW_UPDATE,
}


def _pipeline(path: Path, per_frame: list[np.ndarray] | None = None) -> TcpReport | None:
    """Our own capture -> decode -> flows -> tcp pipeline, or None while those stages are missing.

    With `per_frame`, appends one (frame, analysis, ack_rtt_ns, rto_ns, window) array per chunk.
    """
    try:
        from pcap_analyzer.capture.open import open_capture
        from pcap_analyzer.decode import decode_chunk
        from pcap_analyzer.flows.tracker import FlowTracker
    except ImportError:
        return None
    tcp, tracker = TcpAnalyzer(), FlowTracker()
    with open_capture(path, chunk_bytes=1 << 20) as reader:
        for chunk in reader:
            packets = decode_chunk(chunk)
            res = tcp.update(packets, tracker.assign(packets))
            if per_frame is not None:
                per_frame.append(np.stack([packets.frame, res.analysis.astype(np.int64), res.ack_rtt_ns,
                                           res.rto_ns, res.window]))
    return tcp.finalize(tracker.table())


def _report(path: Path) -> TcpReport:
    rep = _pipeline(path)
    if rep is not None:
        return rep
    return _report_from_tshark_columns(path)


def _report_from_tshark_columns(path: Path) -> TcpReport:
    """The TCP stage alone, fed with tshark's decoding (in two chunks)."""
    if TSHARK is None:
        pytest.skip("neither our decode/flows stages nor tshark are available")
    tcp = TcpAnalyzer()
    packets, flows = tshark_tables(path)
    half = len(packets) // 2  # two chunks: state must carry across chunk boundaries
    for sl in (slice(0, half), slice(half, None)):
        part = type(packets)(**{k: (getattr(packets, k)[sl] if k != "buf" else packets.buf)
                                for k in packets.__dataclass_fields__})
        tcp.update(part, type(flows)(flows.conv[sl], flows.tcp_stream[sl], flows.direction[sl]))
    return tcp.finalize()


def _close_count(ours: int, truth: int) -> bool:
    return abs(ours - truth) <= max(2, 0.01 * truth)


def _close_stats(ours_ms: Any, truth_s: dict[str, float]) -> None:
    assert ours_ms.count == pytest.approx(truth_s["count"], rel=0.01, abs=2)
    for key in ("median", "p95", "max"):
        # oracle values are rounded to 1 us; allow that or 1 %
        assert getattr(ours_ms, key) / 1e3 == pytest.approx(truth_s[key], rel=0.01, abs=1e-6), key


@pytest.fixture(scope="module", params=FILES)
def case(request: pytest.FixtureRequest, corpus_dir: Path, oracle: dict[str, Any]) -> tuple[TcpReport, dict]:
    return _report(corpus_dir / request.param), oracle[request.param]["tcp"]


def test_analysis_counts(case: tuple[TcpReport, dict]) -> None:
    rep, truth = case
    for name, flag in FLAGS.items():
        assert _close_count(rep.count(flag), truth["analysis"][name]), (name, rep.count(flag))


def test_handshake_frames_and_streams(case: tuple[TcpReport, dict]) -> None:
    rep, truth = case
    s = rep.summary()
    assert s.conversations == truth["streams"]
    assert s.packets == truth["frames"]
    assert s.payload_bytes == truth["payload_bytes"]
    assert (s.syn, s.syn_ack, s.resets) == (truth["syn_frames"], truth["synack_frames"], truth["rst_frames"])
    assert s.unanswered_connections == truth["handshake_delay_s"]["streams_syn_without_synack"]
    assert int(np.count_nonzero(rep.dirs[:, :, D_RST].sum(axis=1))) == truth["streams_with_rst"]


def test_timings(case: tuple[TcpReport, dict]) -> None:
    rep, truth = case
    s = rep.summary()
    _close_stats(s.handshake_ms, truth["handshake_delay_s"])
    _close_stats(s.ack_rtt_ms, truth["ack_rtt_s"])
    _close_stats(s.initial_rtt_ms, truth["initial_rtt_s"])
    _close_stats(s.rto_ms, truth["rto_s"])
    assert s.rto_retransmissions == truth["rto_s"]["count"]


def test_connections_ranked_and_detailed(case: tuple[TcpReport, dict]) -> None:
    rep, truth = case
    conns = rep.connections(20)
    assert [c.score for c in conns] == sorted((c.score for c in conns), reverse=True)
    by_stream = {c["stream"]: c for c in truth["top_streams_by_bytes"]}
    for c in rep.connections(len(rep.streams)):
        if c.stream in by_stream:
            assert c.retransmissions == by_stream[c.stream]["retransmission"]
            assert c.packets_ab + c.packets_ba == by_stream[c.stream]["frames"]
            assert c.payload_ab + c.payload_ba == by_stream[c.stream]["tcp_payload_bytes"]
        assert len(c.flagged) <= 200
    details = rep.details([c.stream for c in conns])
    assert details, "the worst connections keep drill-down series"
    for d in details:
        assert d.seq and d.ack and d.window
        ts = [p[0] for p in d.seq]
        assert ts == sorted(ts)


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_every_frame_matches_tshark(corpus_dir: Path) -> None:
    """Our whole pipeline, frame by frame: flags, ack_rtt, rto and scaled window equal tshark's."""
    path = corpus_dir / "netns_mixed_s128.pcap"
    chunks: list[np.ndarray] = []
    if _pipeline(path, chunks) is None:
        pytest.skip("decode/flows stages not available yet")
    frame, bits, rtt, rto, win = np.concatenate(chunks, axis=1)
    ref = tshark_analysis(path)
    idx = frame - 1
    bad = np.flatnonzero((bits & TSHARK_BITS) != ref["bits"][idx])
    assert bad.size == 0, f"frames {frame[bad[:10]]}"
    np.testing.assert_allclose(np.where(rtt >= 0, rtt / 1e9, np.nan), ref["ack_rtt"][idx], atol=2e-9)
    np.testing.assert_allclose(np.where(rto >= 0, rto / 1e9, np.nan), ref["rto"][idx], atol=2e-9)
    tcp = ~np.isnan(ref["window"][idx])
    np.testing.assert_array_equal(win[tcp], ref["window"][idx][tcp])


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tcp_stage_alone_on_tshark_columns(corpus_dir: Path, oracle: dict[str, Any]) -> None:
    """Isolates the TCP stage from our decoder: tshark's columns in, tshark's counts out."""
    rep = _report_from_tshark_columns(corpus_dir / "netns_mixed_s128.pcap")
    truth = oracle["netns_mixed_s128.pcap"]["tcp"]
    assert {n: rep.count(f) for n, f in FLAGS.items()} == {n: truth["analysis"][n] for n in FLAGS}
    assert rep.summary().ack_rtt_ms.count == truth["ack_rtt_s"]["count"]
