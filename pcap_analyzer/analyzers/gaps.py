"""Traffic gaps: silences between consecutive packets longer than a threshold."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.analyzers.common import NS
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.report.model import Gap


class GapAnalyzer:
    """Gaps between consecutive packets (capture order) of at least `threshold_s` seconds.

    `max_gap_s` is the largest inter-frame time (as the oracle's max_interframe_gap_s); only the
    `max_gaps` longest gaps are listed, `count` counts them all.
    """

    def __init__(self, threshold_s: float = 1.0, max_gaps: int = 100) -> None:
        self.threshold_ns = int(threshold_s * NS)
        self.max_gaps = max_gaps
        self.count = 0
        self.max_gap_ns = 0
        self._prev_ts: int | None = None
        self._prev_frame = 0
        self._gaps: list[tuple[int, int, int]] = []  # (duration_ns, start_ns, after_frame)

    def update(self, batch: PacketBatch) -> None:
        """Add one chunk."""
        p = batch.packets
        if len(p) == 0:
            return
        ts = p.ts_ns
        prev = np.empty(len(p), np.int64)
        prev[1:] = ts[:-1]
        prev[0] = ts[0] if self._prev_ts is None else self._prev_ts
        prev_frame = np.empty(len(p), np.int64)
        prev_frame[1:] = p.frame[:-1]
        prev_frame[0] = self._prev_frame
        d = ts - prev
        self.max_gap_ns = max(self.max_gap_ns, int(d.max()))
        idx = np.flatnonzero(d >= self.threshold_ns)
        if idx.size:
            self.count += int(idx.size)
            self._gaps.extend(zip(d[idx].tolist(), prev[idx].tolist(), prev_frame[idx].tolist(), strict=True))
            if len(self._gaps) > 2 * self.max_gaps:
                self._gaps = sorted(self._gaps, reverse=True)[: self.max_gaps]
        self._prev_ts = int(ts[-1])
        self._prev_frame = int(p.frame[-1])

    @property
    def max_gap_s(self) -> float:
        """Largest time between two consecutive packets."""
        return self.max_gap_ns / NS

    def finalize(self) -> list[Gap]:
        """The longest gaps, in time order."""
        kept = sorted(self._gaps, reverse=True)[: self.max_gaps]
        kept.sort(key=lambda g: g[1])
        return [Gap(start_ts=s / NS, duration_s=d / NS, after_frame=f) for d, s, f in kept]

    def limits(self) -> dict[str, int]:
        """Cap on the gap list and how many gaps there were."""
        return {"gaps": self.max_gaps, "gaps_total": self.count}
