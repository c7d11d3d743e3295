"""Sampler (bounded, stride-doubling) and TimeBins (merging buckets)."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.analyzers.common import NS, Sampler, TimeBins, format_addr
from tests.engine.analyzers.batches import addr


def test_sampler_mean_of_integer_units_does_not_depend_on_the_split() -> None:
    ns = np.random.default_rng(3).integers(1, 10**9, 5000)
    means = set()
    for parts in (1, 7, 64):
        s = Sampler(cap=100, per_unit=1_000_000)
        for part in np.array_split(ns, parts):
            s.add(part)
        means.add(s.stats().mean)
        assert s.min == ns.min() / 1e6 and s.max == ns.max() / 1e6
    assert means == {int(ns.sum()) / (ns.size * 1_000_000)}


def test_sampler_is_exact_under_its_cap() -> None:
    s = Sampler(cap=100)
    vals = np.arange(90, dtype=float)[::-1]
    s.add(vals[:40])
    s.add(vals[40:])
    st = s.stats()
    assert s.exact and st.count == 90
    assert (st.min, st.max, st.median, st.mean) == (0.0, 89.0, 44.5, 44.5)


def test_sampler_stays_bounded_and_keeps_every_kth_value() -> None:
    s = Sampler(cap=64)
    for start in range(0, 10_000, 37):
        s.add(np.arange(start, min(start + 37, 10_000), dtype=float))
    kept = s.values()
    assert len(kept) <= 64 and s.count == 10_000
    stride = kept[1] - kept[0]
    assert np.all(np.diff(kept) == stride) and kept[0] == 0
    assert s.stats().max == 9999.0 and s.stats().mean == 4999.5


def test_timebins_merge_keeps_totals_and_bounds_buckets() -> None:
    b = TimeBins(2, width_ns=NS, max_bins=10)
    ts = np.arange(0, 95, dtype=np.int64) * NS // 2 + 7 * NS  # 95 packets over 47 s
    b.add(ts[:50], np.stack([np.ones(50, np.int64), np.full(50, 3, np.int64)]))
    b.add(ts[50:], np.stack([np.ones(45, np.int64), np.full(45, 3, np.int64)]))
    assert b.n_bins <= 10 and b.width_ns == 8 * NS
    assert sum(b.series(0)) == 95 and sum(b.series(1)) == 285
    # bucket k holds packets with (t - origin) // width == k
    rel = (ts - ts[0]) // b.width_ns
    assert b.series(0) == np.bincount(rel).tolist()


def test_format_addr_round_trips_v4_and_v6() -> None:
    for text in ("10.99.0.1", "0.0.0.0", "fe80::4472:dcff:fe72:50bf", "::", "::1"):
        assert format_addr(*addr(text)) == text
