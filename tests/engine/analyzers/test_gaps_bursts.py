"""GapAnalyzer and BurstAnalyzer on timestamps chosen by construction."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.analyzers.bursts import BurstAnalyzer
from pcap_analyzer.analyzers.gaps import GapAnalyzer
from tests.engine.analyzers.batches import batch


def test_gaps_across_chunks_and_cap() -> None:
    times = [0.0, 0.2, 5.2, 5.3, 6.8, 6.9]  # gaps: 5.0 s after frame 2; 1.5 s after frame 4
    an = GapAnalyzer(threshold_s=1.0, max_gaps=1)
    an.update(batch([{"t": t} for t in times[:3]]))
    an.update(batch([{"t": t} for t in times[3:]], first_frame=4))
    gaps = an.finalize()
    assert an.max_gap_s == 5.0 and an.count == 2
    assert [(g.start_ts, g.duration_s, g.after_frame) for g in gaps] == [(0.2, 5.0, 2)]
    an2 = GapAnalyzer(threshold_s=1.0)
    an2.update(batch([{"t": times[2]}], first_frame=3))  # a gap spanning a chunk boundary
    an2.update(batch([{"t": t} for t in times[3:5]], first_frame=4))
    assert [(g.after_frame, round(g.duration_s, 9)) for g in an2.finalize()] == [(4, 1.5)]


def test_bursts_find_the_hot_windows() -> None:
    rng = np.random.default_rng(1)
    base = np.sort(rng.uniform(0, 20, 400))  # ~2 packets per 100 ms window
    burst = np.linspace(7.0, 7.29, 300)  # 300 packets in windows 70..72
    t = np.sort(np.concatenate([base, burst]))
    an = BurstAnalyzer(window_s=0.1, factor=5, min_packets=20)
    an.update(batch([{"t": float(x), "wirelen": 1000} for x in t]))
    bursts = an.finalize()
    assert len(bursts) == 1
    b = bursts[0]
    in_burst = ((t >= b.start_ts) & (t < b.start_ts + b.duration_s)).sum()
    assert abs(b.start_ts - 7.0) < 0.11 and 0.2 <= b.duration_s <= 0.4
    assert b.packets == in_burst and b.bytes == in_burst * 1000
    assert an.limits()["burst_window_ms"] == 100


def test_no_bursts_in_steady_traffic() -> None:
    an = BurstAnalyzer()
    an.update(batch([{"t": i * 0.01} for i in range(2000)]))
    assert an.finalize() == []


def test_burst_rate_of_absurd_lengths_does_not_overflow() -> None:
    # A damaged capture can claim 4 GB frames: bytes * 8e9 no longer fits an int64.
    t = [i * 0.01 for i in range(200)] + [1.0 + i * 1e-4 for i in range(100)]
    an = BurstAnalyzer(window_s=0.1, factor=5, min_packets=20)
    an.update(batch([{"t": x, "wirelen": 0xFFFFFFFF if x >= 1.0 else 100} for x in sorted(t)]))
    (b,) = an.finalize()
    assert b.duration_s == 0.1 and b.peak_bps == b.bytes * 8 / 0.1 > 2**63 / 1e9
