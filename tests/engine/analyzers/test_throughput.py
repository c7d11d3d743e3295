"""ThroughputAnalyzer: totals, best second, timeline buckets, events, RTT points, top connections."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.analyzers.throughput import ThroughputAnalyzer, _top_streams
from pcap_analyzer.report.model import SeriesPoint
from pcap_analyzer.tcp.model import TcpAnalysis
from tests.engine.analyzers.batches import batch


def test_totals_best_second_and_buckets() -> None:
    rows = [
        {"t": 100.0, "wirelen": 100, "conv": 0, "tcp_stream": 0, "direction": 0},
        {
            "t": 100.9,
            "wirelen": 200,
            "conv": 0,
            "tcp_stream": 0,
            "direction": 1,
            "analysis": TcpAnalysis.RETRANSMISSION | TcpAnalysis.FAST_RETRANSMISSION,
        },
        {"t": 101.2, "wirelen": 300, "conv": 1, "tcp_stream": 1, "direction": 0, "ack_rtt_ns": 5_000_000},
        {"t": 101.3, "wirelen": 50},  # no flow
        {"t": 103.5, "wirelen": 400, "conv": 1, "tcp_stream": 1, "direction": 1, "analysis": TcpAnalysis.RST},
    ]
    an = ThroughputAnalyzer()
    an.update(batch(rows[:2]))
    an.update(batch(rows[2:], first_frame=3))
    thr, tl = an.finalize(dns_points=[SeriesPoint(t=0.5, v=12.0)])
    assert (thr.bytes, thr.duration_s) == (1050, 3.5)
    assert thr.bits_per_s == 1050 * 8 / 3.5
    assert thr.max_1s_bits_per_s == 400 * 8  # [103, 104): 400; [100, 101): 300; [101, 102): 350
    assert tl.start_ts == 100.0 and tl.bucket_s == 1.0
    assert tl.bytes_total == [300, 350, 0, 400]
    assert tl.packets == [2, 2, 0, 1]
    assert tl.bytes_ab == [100, 300, 0, 0] and tl.bytes_ba == [200, 0, 0, 400]
    assert tl.events["retransmission"] == [1, 0, 0, 0] and tl.events["fast_retransmission"] == [1, 0, 0, 0]
    assert tl.events["rst"] == [0, 0, 0, 1] and tl.events["duplicate_ack"] == [0, 0, 0, 0]
    assert [(p.t, p.v) for p in tl.rtt_ms] == [(1.2, 5.0)]
    assert tl.dns_ms == [SeriesPoint(t=0.5, v=12.0)]
    assert tl.top_connections == {"stream 1": [0, 300, 0, 400], "stream 0": [300, 0, 0, 0]}


def test_long_capture_stays_bounded() -> None:
    an = ThroughputAnalyzer(max_buckets=100, max_rtt_points=50, top_connections=3, candidates=4)
    n = 20_000
    t = np.arange(n) * 0.5  # 10,000 s
    for s in range(0, n, 4000):
        rows = [
            {
                "t": float(t[i]),
                "wirelen": 100 + (i % 7),
                "conv": i % 9,
                "tcp_stream": i % 9,
                "ack_rtt_ns": 1_000_000,
            }
            for i in range(s, s + 4000)
        ]
        an.update(batch(rows, first_frame=s + 1))
    thr, tl = an.finalize()
    assert len(tl.bytes_total) <= 100 and tl.bucket_s == 128.0
    assert sum(tl.bytes_total) == thr.bytes == sum(100 + (i % 7) for i in range(n))
    assert sum(tl.packets) == n
    assert 25 <= len(tl.rtt_ms) <= 50
    assert len(tl.top_connections) == 3
    assert (
        thr.max_1s_bits_per_s == max((100 + (2 * k) % 7) + (100 + (2 * k + 1) % 7) for k in range(n // 2)) * 8
    )


def test_top_stream_ties_go_to_the_lower_stream_id() -> None:
    stream_bytes = np.array([5, 9, 5, 0, 5, 9, 5, 0, 0, 0], np.int64)
    assert sorted(_top_streams(stream_bytes, 4).tolist()) == [0, 1, 2, 5]
    assert sorted(_top_streams(stream_bytes[:8], 4).tolist()) == [0, 1, 2, 5]  # spare capacity: same
    assert sorted(_top_streams(stream_bytes, 8).tolist()) == [0, 1, 2, 4, 5, 6]  # never a stream of 0 bytes


def test_no_average_rate_over_a_near_zero_duration() -> None:
    # two 42-byte packets 24 us apart: 84 bytes, not "28 Mbit/s"
    an = ThroughputAnalyzer()
    an.update(batch([{"t": 100.0, "wirelen": 42}, {"t": 100.000024, "wirelen": 42}]))
    thr, _ = an.finalize()
    assert thr.bytes == 84 and thr.bits_per_s is None
    assert thr.max_1s_bits_per_s == 84 * 8  # the busiest second holds them all
