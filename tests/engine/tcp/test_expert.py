"""tcp.analysis.* on connections built packet by packet: truth by construction, and tshark frame by frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcap_analyzer.tcp.analyzer import TcpAnalyzer
from pcap_analyzer.tcp.model import TcpAnalysis as A
from pcap_analyzer.tcp.model import TcpChunkResult
from pcap_analyzer.tcp.report import TcpReport
from tests.engine.tcp.scenario import ACK, FIN, PSH, RST, SYN, Conv
from tests.engine.tcp.tshark_tables import TSHARK, TSHARK_BITS, tshark_analysis


def run(conv: Conv, tmp_path: Path) -> tuple[TcpChunkResult, TcpReport]:
    """Analyse `conv`; when tshark is installed, also require its flags/ack_rtt/rto frame by frame."""
    packets, flows = conv.tables()
    tcp = TcpAnalyzer()
    res = tcp.update(packets, flows)
    rep = tcp.finalize()
    if TSHARK is not None:
        ref = tshark_analysis(conv.write(tmp_path / "conv.pcap"))
        ours = res.analysis.astype(np.int64) & TSHARK_BITS
        bad = np.flatnonzero(ours != ref["bits"])
        assert bad.size == 0, f"frames {bad + 1}: ours {ours[bad]} tshark {ref['bits'][bad]}"
        rtt = np.where(res.ack_rtt_ns >= 0, res.ack_rtt_ns / 1e9, np.nan)
        np.testing.assert_allclose(rtt, ref["ack_rtt"], atol=2e-9)
        rto = np.where(res.rto_ns != -1, res.rto_ns / 1e9, np.nan)  # negative when time went backwards
        np.testing.assert_allclose(rto, ref["rto"], atol=2e-9)
        np.testing.assert_array_equal(res.window, ref["window"])
        irtt = ref["irtt"][~np.isnan(ref["irtt"])]
        np.testing.assert_allclose(rep.initial_rtt_s()[0], irtt[0] if irtt.size else np.nan, atol=2e-9)
    return res, rep


def has(res: TcpChunkResult, frame: int, flag: A) -> bool:
    return bool(res.analysis[frame - 1] & flag)


def test_handshake_timing_and_ack_rtt(tmp_path: Path) -> None:
    c = Conv()
    c.handshake()
    c.c(30, ACK | PSH, 1, 1, length=100)
    ack = c.s(45, ACK, 1, 101)
    res, rep = run(c, tmp_path)
    assert res.ack_rtt_ns[ack - 1] == 15_000_000
    assert res.ack_rtt_ns[1] == 10_000_000  # the SYN/ACK acknowledges the SYN
    assert rep.handshake_s()[0] == pytest.approx(0.010)
    assert rep.synack_to_ack_s()[0] == pytest.approx(0.010)
    assert rep.initial_rtt_s()[0] == pytest.approx(0.020)
    assert rep.states() == ["S1"]
    assert not res.analysis.any()


def test_lost_segment(tmp_path: Path) -> None:
    c = Conv()
    c.handshake()
    c.c(30, ACK, 1, 1, length=100)
    gap = c.c(31, ACK, 201, 1, length=100)  # bytes 101..200 never captured
    res, rep = run(c, tmp_path)
    assert has(res, gap, A.LOST_SEGMENT)
    assert rep.count(A.LOST_SEGMENT) == 1


def test_acked_unseen_segment_flagged_once_per_gap(tmp_path: Path) -> None:
    """Keep-alive request/response exchanges with one response missing from the capture: the client's ACKs
    around the gap are flagged (frame by frame as tshark), the later exchanges, whose data was captured,
    are not: the flag does not repeat on every later ACK."""
    c = Conv()
    c.handshake()
    t, cs, ss = 30.0, 1, 1
    for k in range(8):
        c.c(t, ACK | PSH, cs, ss, length=100)
        cs += 100
        if k != 2:  # the third response was not captured
            c.s(t + 5, ACK | PSH, ss, cs, length=300)
        ss += 300
        c.c(t + 10, ACK, cs, ss)
        t += 20
    res, rep = run(c, tmp_path)
    flagged = [f for f in range(1, len(c.pkts) + 1) if has(res, f, A.ACK_LOST_SEGMENT)]
    third_ack, fourth_ack = 3 + 3 * 2 + 2, 3 + 3 * 2 + 2 + 3  # frames of the 3rd and 4th exchange's ACK
    assert flagged and min(flagged) == third_ack and max(flagged) <= fourth_ack


def test_acked_unseen_segment_during_an_upload_with_a_hole(tmp_path: Path) -> None:
    """An upload whose segments were captured only in part (the capture lost some): the receiver's ACKs
    run ahead of the captured data; each hole is flagged once, not on every ACK."""
    c = Conv()
    c.handshake()
    t, seq = 30.0, 1
    for k in range(12):
        if k not in (3, 4, 8):  # segments the capture missed
            c.c(t, ACK, seq, 1, length=1000)
        seq += 1000
        c.s(t + 2, ACK, 1, seq)
        t += 5
    res, rep = run(c, tmp_path)
    # Two holes (segments 3-4 and 8), each flagged when first ACKed and once more when data beyond it shows
    # up; never on the other ACKs.
    assert 2 <= rep.count(A.ACK_LOST_SEGMENT) <= 4


def test_time_going_backwards_is_no_out_of_order_or_fast_retransmission(tmp_path: Path) -> None:
    """tshark measures the time since the highest segment and since the last ACK as unsigned: a segment
    stamped earlier than those (clock step, merged captures) is far from them, so it is a plain
    retransmission, not out-of-order or fast (frame by frame as tshark in run())."""
    c = Conv()
    c.handshake()
    c.c(30, ACK, 1, 1, length=100)
    c.c(31, ACK, 101, 1, length=100)
    for k in range(3):
        c.s(40 + k, ACK, 1, 101)  # three duplicate ACKs: 101..200 is missing at the receiver
    resent = c.c(25, ACK, 101, 1, length=100)  # the resend, stamped before them
    older = c.c(20, ACK, 1, 1, length=50)  # a segment that does not advance, also stamped earlier
    res, _ = run(c, tmp_path)
    for frame in (resent, older):
        assert has(res, frame, A.RETRANSMISSION)
        assert not has(res, frame, A.OUT_OF_ORDER) and not has(res, frame, A.FAST_RETRANSMISSION)


def test_fast_retransmission_after_three_dup_acks(tmp_path: Path) -> None:
    c = Conv()
    c.handshake()
    c.c(30, ACK, 1, 1, length=100)
    c.c(30.1, ACK, 201, 1, length=100)  # 101..200 lost
    c.c(30.2, ACK, 301, 1, length=100)
    c.c(30.3, ACK, 401, 1, length=100)
    first = c.s(40, ACK, 1, 101)
    dups = [c.s(40.1, ACK, 1, 101), c.s(40.2, ACK, 1, 101), c.s(40.3, ACK, 1, 101)]
    fast = c.c(41, ACK, 101, 1, length=100)
    res, rep = run(c, tmp_path)
    assert not has(res, first, A.DUPLICATE_ACK)
    assert all(has(res, f, A.DUPLICATE_ACK) for f in dups)
    assert has(res, fast, A.FAST_RETRANSMISSION) and has(res, fast, A.RETRANSMISSION)
    assert not has(res, fast, A.RTO_RETRANSMISSION)
    s = rep.summary()
    assert (s.duplicate_acks, s.fast_retransmissions, s.retransmissions, s.lost_segments) == (3, 1, 1, 1)


def test_rto_retransmission(tmp_path: Path) -> None:
    c = Conv()
    c.handshake()
    c.c(30, ACK | PSH, 1, 1, length=100)
    again = c.c(230, ACK | PSH, 1, 1, length=100)
    res, rep = run(c, tmp_path)
    assert has(res, again, A.RETRANSMISSION) and has(res, again, A.RTO_RETRANSMISSION)
    assert res.rto_ns[again - 1] == 200_000_000
    assert rep.summary().rto_ms.median == pytest.approx(200.0)
    assert rep.connection(0).rto_time_ms == pytest.approx(200.0)


def test_spurious_retransmission(tmp_path: Path) -> None:
    c = Conv()
    c.handshake()
    c.c(30, ACK, 1, 1, length=100)
    c.s(40, ACK, 1, 101)
    again = c.c(300, ACK, 1, 1, length=100)  # already acknowledged
    res, _ = run(c, tmp_path)
    assert has(res, again, A.SPURIOUS_RETRANSMISSION) and has(res, again, A.RETRANSMISSION)


def test_out_of_order(tmp_path: Path) -> None:
    c = Conv()
    c.handshake()
    c.c(30, ACK, 1, 1, length=100)
    late = c.c(31, ACK, 201, 1, length=100)
    ooo = c.c(31.5, ACK, 101, 1, length=100)  # within the initial RTT (20 ms) of the highest segment
    res, _ = run(c, tmp_path)
    assert has(res, late, A.LOST_SEGMENT)
    assert has(res, ooo, A.OUT_OF_ORDER) and not has(res, ooo, A.RETRANSMISSION)


def test_zero_window_probe_and_update(tmp_path: Path) -> None:
    c = Conv()
    c.handshake()
    c.c(30, ACK, 1, 1, length=100)
    zero = c.s(40, ACK, 1, 101, win=0)
    probe = c.c(240, ACK, 101, 1, length=1)
    probe_ack = c.s(241, ACK, 1, 101, win=0)
    update = c.s(400, ACK, 1, 101, win=1000)
    res, rep = run(c, tmp_path)
    assert has(res, zero, A.ZERO_WINDOW)
    assert has(res, probe, A.ZERO_WINDOW_PROBE)
    assert has(res, probe_ack, A.ZERO_WINDOW_PROBE_ACK) and has(res, probe_ack, A.ZERO_WINDOW)
    assert has(res, update, A.WINDOW_UPDATE)
    assert rep.summary().zero_windows == 2


def test_window_full(tmp_path: Path) -> None:
    c = Conv()
    c.handshake(win=200)
    c.c(30, ACK, 1, 1, length=100)
    full = c.c(30.1, ACK, 101, 1, length=100)  # reaches ack 1 + window 200
    res, _ = run(c, tmp_path)
    assert has(res, full, A.WINDOW_FULL)
    assert res.analysis[full - 2] == 0


def test_keep_alive(tmp_path: Path) -> None:
    c = Conv()
    c.handshake()
    c.c(30, ACK, 1, 1, length=100)
    c.s(40, ACK, 1, 101)
    ka = c.c(5000, ACK, 100, 1)
    ka_ack = c.s(5001, ACK, 1, 101)
    res, rep = run(c, tmp_path)
    assert has(res, ka, A.KEEP_ALIVE) and has(res, ka_ack, A.KEEP_ALIVE_ACK)
    assert rep.summary().keep_alives == 1


def test_rst_by_responder(tmp_path: Path) -> None:
    c = Conv()
    c.handshake()
    c.c(30, ACK, 1, 1, length=100)
    rst = c.s(40, RST | ACK, 1, 101)
    res, rep = run(c, tmp_path)
    assert has(res, rst, A.RST)
    assert rep.states() == ["RSTR"] and rep.summary().resets == 1


def test_unanswered_syn_with_retransmissions(tmp_path: Path) -> None:
    c = Conv()
    c.c(0, SYN, 0, 0)
    again = [c.c(1000, SYN, 0, 0), c.c(3000, SYN, 0, 0)]
    res, rep = run(c, tmp_path)
    assert all(has(res, f, A.SYN_RETRANSMISSION) and has(res, f, A.RETRANSMISSION) for f in again)
    s = rep.summary()
    assert (s.syn, s.syn_ack, s.syn_retransmissions, s.unanswered_connections) == (3, 0, 2, 1)
    assert rep.states() == ["S0"] and np.isnan(rep.handshake_s()[0])


def test_refused_connection(tmp_path: Path) -> None:
    c = Conv()
    c.c(0, SYN, 0, 0)
    c.s(0.05, RST | ACK, 0, 1)
    _, rep = run(c, tmp_path)
    s = rep.summary()
    assert rep.states() == ["REJ"] and s.refused_connections == 1 and s.unanswered_connections == 1
    assert rep.initial_rtt_s()[0] == pytest.approx(50e-6)  # tshark: first ACK after the SYN, even a RST


def test_orderly_close_is_sf(tmp_path: Path) -> None:
    c = Conv()
    c.handshake()
    c.c(30, FIN | ACK, 1, 1)
    c.s(31, FIN | ACK, 1, 2)
    c.c(32, ACK, 2, 2)
    _, rep = run(c, tmp_path)
    assert rep.states() == ["SF"]


@pytest.mark.parametrize(("ws", "expected"), [((7, 8), 100 << 7), ((7, -1), 100), ((-1, 8), 100)])
def test_window_scaling_needs_both_sides(tmp_path: Path, ws: tuple[int, int], expected: int) -> None:
    c = Conv()
    c.handshake(ws=ws)
    data = c.c(30, ACK, 1, 1, win=100, length=10)
    res, rep = run(c, tmp_path)
    assert res.window[data - 1] == expected
    assert res.window[0] == 1000  # a SYN's window is never scaled
    if ws == (7, 8):
        assert rep.window_scale()[0].tolist() == [7, 8]


def test_group_stats_match_stats_ms_per_group() -> None:
    from pcap_analyzer.tcp.report import group_stats_ms, stats_ms

    rng = np.random.default_rng(1)
    for _ in range(50):
        sizes = rng.integers(0, 40, rng.integers(1, 30))
        values = np.round(rng.random(sizes.sum()), int(rng.integers(2, 7))).astype(np.float32)
        order = rng.permutation(values.size)
        bounds = np.concatenate(([0], np.cumsum(sizes)))
        got = group_stats_ms(values, order, bounds)
        assert got == [stats_ms(values[order[bounds[g] : bounds[g + 1]]]) for g in range(sizes.size)]
