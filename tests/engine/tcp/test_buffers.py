"""Bounded memory: sample thinning, drill-down series slots, chunk boundaries, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from pcap_analyzer.decode.packets import PacketTable
from pcap_analyzer.flows.model import FlowAssignment
from pcap_analyzer.tcp.analyzer import TcpAnalyzer
from pcap_analyzer.tcp.samples import SampleBuffer
from pcap_analyzer.tcp.series import SeriesStore
from tests.engine.tcp.scenario import ACK, Conv


def test_sample_buffer_keeps_every_stride_th_sample() -> None:
    buf = SampleBuffer(cap=5)
    for lo in range(0, 23, 3):  # 0..23 offered in chunks of 3
        vals = np.arange(lo, min(lo + 3, 23), dtype=np.float64)
        buf.add(np.zeros(vals.size, np.int32), vals)
    frozen = buf.freeze()
    assert frozen.seen == 23 and frozen.stride == 8
    assert frozen.value.tolist() == [0.0, 8.0, 16.0]


def _bulk(n_segments: int) -> Conv:
    c = Conv()
    c.handshake()
    for k in range(n_segments):
        c.c(30 + k, ACK, 1 + 100 * k, 1, length=100)
        c.s(30.5 + k, ACK, 1, 101 + 100 * k)
    c.c(30 + n_segments, ACK, 1, 1, length=100)  # a retransmission makes the stream interesting
    return c


def test_chunking_does_not_change_results() -> None:
    packets, flows = _bulk(50).tables()
    whole = TcpAnalyzer().update(packets, flows)
    tcp = TcpAnalyzer()
    parts = []
    for lo in range(0, len(packets), 7):
        sl = slice(lo, lo + 7)
        part = PacketTable(**{k: (getattr(packets, k)[sl] if k != "buf" else packets.buf)
                              for k in packets.__dataclass_fields__})
        sub = FlowAssignment(flows.conv[sl], flows.tcp_stream[sl], flows.direction[sl])
        parts.append(tcp.update(part, sub))
    for name in ("analysis", "ack_rtt_ns", "rto_ns", "window", "rel_seq"):
        np.testing.assert_array_equal(np.concatenate([getattr(p, name) for p in parts]), getattr(whole, name))


def test_series_are_bounded_and_evenly_thinned() -> None:
    packets, flows = _bulk(300).tables()
    tcp = TcpAnalyzer(series_slots=1, series_points=16)
    for lo in range(0, len(packets), 50):
        sl = slice(lo, lo + 50)
        part = PacketTable(**{k: (getattr(packets, k)[sl] if k != "buf" else packets.buf)
                              for k in packets.__dataclass_fields__})
        tcp.update(part, FlowAssignment(flows.conv[sl], flows.tcp_stream[sl], flows.direction[sl]))
    (detail,) = tcp.finalize().details([0])
    assert 8 <= len(detail.seq) <= 16 and 8 <= len(detail.ack) <= 16
    data = [p[1] for p in detail.seq if p[2] > 0 and p[3] == 0]
    steps = np.diff(data)
    assert len(set(steps.tolist())) == 1  # evenly spaced relative sequence numbers


def test_series_slot_goes_to_the_more_flagged_connection() -> None:
    quiet, bad = _bulk(5), _bulk(5)
    p1, f1 = quiet.tables()
    p2, f2 = bad.tables()
    packets = PacketTable(**{k: (np.concatenate([getattr(p1, k), getattr(p2, k)]) if k != "buf" else p1.buf)
                             for k in p1.__dataclass_fields__})
    packets.frame[:] = np.arange(1, len(packets) + 1)
    stream = np.r_[np.zeros(len(p1), np.int64), np.ones(len(p2), np.int64)]
    flows = FlowAssignment(stream.copy(), stream, np.r_[f1.direction, f2.direction])
    packets.tcp_flags[len(p1) - 1] = ACK  # make stream 0's last packet a plain ACK: no flag at all
    packets.payload_len[len(p1) - 1] = 0
    tcp = TcpAnalyzer(series_slots=1)
    tcp.update(packets, flows)
    rep = tcp.finalize()
    assert [d.stream for d in rep.details([0, 1])] == [1]
    assert SeriesStore(slots=1, points=4).get(3, 0) is None


def test_mismatched_flow_assignment_is_a_clear_error() -> None:
    packets, flows = _bulk(2).tables()
    with pytest.raises(ValueError, match="rows for"):
        short = FlowAssignment(flows.conv[:2], flows.tcp_stream[:2], flows.direction[:2])
        TcpAnalyzer().update(packets, short)


def test_flag_counts_of_many_streams_in_one_chunk() -> None:
    """200 copies of one flagged connection in a single chunk: the per-stream count rows run out
    mid-chunk and grow, and every copy counts exactly what the connection counts alone."""
    one, flows1 = _bulk(3).tables()
    alone = TcpAnalyzer()
    alone.update(one, flows1)
    truth = alone.finalize().counts[0]
    assert truth.sum() > 0
    copies = 200
    packets = PacketTable(**{k: (np.tile(getattr(one, k), copies) if k != "buf" else one.buf)
                             for k in one.__dataclass_fields__})
    packets.frame[:] = np.arange(1, len(packets) + 1)
    stream = np.repeat(np.arange(copies, dtype=np.int64), len(one))
    flows = FlowAssignment(stream.copy(), stream, np.tile(flows1.direction, copies))
    tcp = TcpAnalyzer()
    tcp.update(packets, flows)
    assert tcp.state.counts.shape[0] >= copies  # started with 64 rows
    rep = tcp.finalize()
    np.testing.assert_array_equal(rep.counts, np.tile(truth, (copies, 1)))
    assert rep.summary().retransmissions == copies * int(truth[0])
