"""Bursts: runs of time windows whose packet rate is far above the capture's usual rate."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.analyzers.common import NS, TimeBins
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.report.model import Burst


class BurstAnalyzer:
    """Definition: the capture span is cut into windows of `window_s` (from the first packet; the width
    doubles when there would be more than `max_windows`, so memory is bounded). A window is "hot" when
    its packet count is at least `factor` x the median packet count of all windows (empty ones
    included) and at least `min_packets`. A burst is a maximal run of consecutive hot windows; the
    `max_bursts` with the most bytes are listed, in time order.
    """

    def __init__(
        self,
        window_s: float = 0.1,
        factor: float = 5.0,
        min_packets: int = 50,
        max_windows: int = 20_000,
        max_bursts: int = 50,
    ) -> None:
        self.factor = factor
        self.min_packets = min_packets
        self.max_bursts = max_bursts
        self._bins = TimeBins(2, int(window_s * NS), max_windows)

    def update(self, batch: PacketBatch) -> None:
        """Add one chunk."""
        p = batch.packets
        if len(p):
            self._bins.add(p.ts_ns, np.stack([np.ones(len(p), np.int64), p.wirelen.astype(np.int64)]))

    def finalize(self) -> list[Burst]:
        """The bursts found (see the class definition)."""
        b = self._bins
        if b.origin is None or b.n_bins < 3:
            return []
        pk = b.sums[0, : b.n_bins]
        by = b.sums[1, : b.n_bins]
        threshold = max(self.factor * float(np.median(pk)), float(self.min_packets))
        hot = np.concatenate([[False], pk >= threshold, [False]]).astype(np.int8)
        edges = np.diff(hot)
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        w = b.width_ns
        bursts = [
            Burst(
                start_ts=(b.origin + s * w) / NS,
                duration_s=(e - s) * w / NS,
                packets=int(pk[s:e].sum()),
                bytes=int(by[s:e].sum()),
                peak_bps=float(by[s:e].max()) * 8 * NS / w,  # float: bytes * 8e9 can overflow int64
            )
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
        ]
        bursts.sort(key=lambda x: -x.bytes)
        return sorted(bursts[: self.max_bursts], key=lambda x: x.start_ts)

    def limits(self) -> dict[str, int]:
        """Cap on the burst list and the window width finally used (ms)."""
        return {"bursts": self.max_bursts, "burst_window_ms": self._bins.width_ns // 1_000_000}
