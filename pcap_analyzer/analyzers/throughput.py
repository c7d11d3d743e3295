"""Throughput (overall and best 1-s bucket) and the Timeline: per-bucket bytes, packets, TCP events, RTT."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers.common import NS, Sampler, TimeBins, grow
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.jit import kernel
from pcap_analyzer.report.model import SeriesPoint, Throughput, Timeline
from pcap_analyzer.tcp.model import TcpAnalysis

# Timeline event series: name -> TcpAnalysis bit
EVENTS: dict[str, int] = {
    "retransmission": TcpAnalysis.RETRANSMISSION,
    "fast_retransmission": TcpAnalysis.FAST_RETRANSMISSION,
    "spurious_retransmission": TcpAnalysis.SPURIOUS_RETRANSMISSION,
    "duplicate_ack": TcpAnalysis.DUPLICATE_ACK,
    "out_of_order": TcpAnalysis.OUT_OF_ORDER,
    "lost_segment": TcpAnalysis.LOST_SEGMENT,
    "zero_window": TcpAnalysis.ZERO_WINDOW,
    "window_full": TcpAnalysis.WINDOW_FULL,
    "rst": TcpAnalysis.RST,
}
# The average rate needs at least this duration; shorter captures only get the busiest-second figure.
MIN_AVERAGE_S = 1.0
_BASE = 4  # series 0..3: bytes_ab, bytes_ba, bytes_total, packets; then events; then candidate streams
_EVENT_BITS = np.array(list(EVENTS.values()), np.uint32)
_SEC_WINDOW = 64  # 1-s buckets kept open for late (out-of-order) timestamps


class ThroughputAnalyzer:
    """One pass, bounded memory: timeline buckets start at `bucket_s` and double (pairs merge) so there
    are never more than `max_buckets`; RTT points are stride-downsampled to at most `max_rtt_points`.

    Per-stream series ("top connections") are kept for `candidates` streams only: after each chunk the
    `candidates` streams with the most bytes so far hold a slot; a stream that enters the set late has
    its series start at that chunk (its earlier bytes are in its total, not in its series). The
    `top_connections` largest candidates are reported.
    """

    def __init__(
        self,
        *,
        bucket_s: float = 1.0,
        max_buckets: int = 2000,
        max_rtt_points: int = 5000,
        top_connections: int = 10,
        candidates: int = 32,
    ) -> None:
        self.top_connections = top_connections
        self.max_rtt_points = max_rtt_points
        self._bins = TimeBins(_BASE + len(EVENTS) + candidates, int(bucket_s * NS), max_buckets)
        self._slot_stream = np.full(candidates, -1, np.int64)
        self._stream_bytes = np.zeros(0, np.int64)
        self._rtt_t = Sampler(max_rtt_points)
        self._rtt_v = Sampler(max_rtt_points)
        self.bytes = 0
        self.packets = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.min_ns: int | None = None  # earliest timestamp (differs from first_ns if time goes backwards)
        self._sec: dict[int, int] = {}
        self._max_sec = 0
        self._closed_max = 0  # largest 1-s bucket already closed
        self._late_bytes = 0  # bytes whose 1-s bucket was already closed (far out-of-order timestamps)

    def update(self, batch: PacketBatch) -> None:
        """Add one chunk."""
        p, f, t = batch.packets, batch.flows, batch.tcp
        n = len(p)
        if n == 0:
            return
        ts, wl = p.ts_ns, p.wirelen.astype(np.int64)
        if self.first_ns is None:
            self.first_ns = int(ts[0])
        self.last_ns = int(ts.max()) if self.last_ns is None else max(self.last_ns, int(ts.max()))
        self.min_ns = int(ts.min()) if self.min_ns is None else min(self.min_ns, int(ts.min()))
        self.bytes += int(wl.sum())
        self.packets += n
        self._update_seconds(ts, wl)
        bins = self._bins
        b = bins.index(ts)
        _bin_packets(b, wl, f.conv, f.direction, f.tcp_stream, t.analysis, _EVENT_BITS, bins.sums)
        is_tcp = f.tcp_stream >= 0
        if is_tcp.any():
            self._update_streams(f.tcp_stream, wl, is_tcp, b)
        has_rtt = is_tcp & (t.ack_rtt_ns >= 0)
        if has_rtt.any():
            self._rtt_t.add((ts[has_rtt] - self.first_ns) / NS)
            self._rtt_v.add(t.ack_rtt_ns[has_rtt] / 1e6)

    def _update_seconds(self, ts: npt.NDArray[np.int64], wl: npt.NDArray[np.int64]) -> None:
        assert self.first_ns is not None
        sec = (ts - self.first_ns) // NS
        lo, hi = int(sec.min()), int(sec.max())
        if hi - lo < 100_000:
            sums = np.bincount(sec - lo, weights=wl)
            u = np.flatnonzero(sums)
            pairs = zip((u + lo).tolist(), sums[u].tolist(), strict=True)
        else:  # timestamps far apart inside one chunk
            uq, inv = np.unique(sec, return_inverse=True)
            pairs = zip(uq.tolist(), np.bincount(inv.ravel(), weights=wl).tolist(), strict=True)
        for sec_i, nbytes in pairs:
            if sec_i < self._max_sec - _SEC_WINDOW and sec_i not in self._sec:
                self._late_bytes += int(nbytes)
                continue
            self._sec[sec_i] = self._sec.get(sec_i, 0) + int(nbytes)
        self._max_sec = max(self._max_sec, hi)
        for old in [k for k in self._sec if k < self._max_sec - _SEC_WINDOW]:
            self._closed_max = max(self._closed_max, self._sec.pop(old))

    def _update_streams(
        self,
        stream: npt.NDArray[np.int64],
        wl: npt.NDArray[np.int64],
        is_tcp: npt.NDArray[np.bool_],
        b: npt.NDArray[np.int64],
    ) -> None:
        s = stream[is_tcp]
        self._stream_bytes = grow(self._stream_bytes, int(s.max()) + 1)
        c = np.bincount(s, weights=wl[is_tcp])
        self._stream_bytes[: c.size] += c.astype(np.int64)
        k = self._slot_stream.size
        want = _top_streams(self._stream_bytes, k)
        keep = np.isin(self._slot_stream, want)
        new = want[~np.isin(want, self._slot_stream)]
        base = _BASE + len(EVENTS)
        evicted = np.flatnonzero(~keep)
        self._bins.sums[base + evicted] = 0
        self._slot_stream[evicted] = -1
        self._slot_stream[evicted[: new.size]] = new[: evicted.size]
        # slot of each packet's stream (-1 = not a candidate), then one bincount over (slot, bucket)
        slot_of = np.full(self._stream_bytes.size, -1, np.int64)
        used = np.flatnonzero(self._slot_stream >= 0)
        slot_of[self._slot_stream[used]] = used
        slot = np.where(is_tcp, slot_of[np.maximum(stream, 0)], -1)
        sel = slot >= 0
        if sel.any():
            nb = self._bins.n_bins
            c2 = np.bincount(slot[sel] * nb + b[sel], weights=wl[sel], minlength=k * nb)
            self._bins.sums[base : base + k, :nb] += c2.reshape(k, nb).astype(np.int64)

    def finalize(self, dns_points: list[SeriesPoint] | None = None) -> tuple[Throughput, Timeline]:
        """The Throughput figures and the Timeline (`dns_points` from DnsAnalyzer.series())."""
        if self.first_ns is None or self.last_ns is None or self.min_ns is None:
            return Throughput(), Timeline()
        dur = (self.last_ns - self.min_ns) / NS
        best = max([self._closed_max, *self._sec.values()])
        thr = Throughput(
            bytes=self.bytes,
            duration_s=dur,
            # an average over a near-zero duration would extrapolate (2 packets 24 us apart: "28 Mbit/s")
            bits_per_s=self.bytes * 8 / dur if dur >= MIN_AVERAGE_S else None,
            max_1s_bits_per_s=float(best * 8),
        )
        b = self._bins
        events = {name: b.series(_BASE + i) for i, name in enumerate(EVENTS)}
        base = _BASE + len(EVENTS)
        slots = [i for i in range(self._slot_stream.size) if self._slot_stream[i] >= 0]
        slots.sort(key=lambda i: (-self._stream_bytes[self._slot_stream[i]], self._slot_stream[i]))
        top = {
            f"stream {int(self._slot_stream[i])}": b.series(base + i) for i in slots[: self.top_connections]
        }
        rtt = [
            SeriesPoint(t=x, v=y)
            for x, y in zip(self._rtt_t.values().tolist(), self._rtt_v.values().tolist(), strict=True)
        ]
        timeline = Timeline(
            bucket_s=b.width_ns / NS,
            start_ts=self.first_ns / NS,
            bytes_ab=b.series(0),
            bytes_ba=b.series(1),
            bytes_total=b.series(2),
            packets=b.series(3),
            events=events,
            rtt_ms=rtt,
            dns_ms=list(dns_points or []),
            top_connections=top,
        )
        return thr, timeline

    def limits(self) -> dict[str, int]:
        """Caps applied (and the bytes left out of max_1s because their second had been closed)."""
        return {
            "timeline_buckets": self._bins.max_bins,
            "timeline_rtt_points": self.max_rtt_points,
            "timeline_top_connections": self.top_connections,
            "throughput_late_bytes": self._late_bytes,
        }


def _top_streams(stream_bytes: npt.NDArray[np.int64], k: int) -> npt.NDArray[np.int64]:
    """The (at most) `k` streams with the most bytes (> 0); ties go to the lower stream id, so the choice
    does not depend on chunk boundaries or on the array's spare capacity."""
    if stream_bytes.size > k:
        kth = np.partition(stream_bytes, stream_bytes.size - k)[stream_bytes.size - k]
        above = np.flatnonzero(stream_bytes > kth)
        want = np.concatenate([above, np.flatnonzero(stream_bytes == kth)[: k - above.size]])
    else:
        want = np.arange(stream_bytes.size)
    return want[stream_bytes[want] > 0]


@kernel
def _bin_packets(
    b: npt.NDArray[np.int64],
    wl: npt.NDArray[np.int64],
    conv: npt.NDArray[np.int64],
    direction: npt.NDArray[np.uint8],
    tcp_stream: npt.NDArray[np.int64],
    analysis: npt.NDArray[np.uint32],
    event_bits: npt.NDArray[np.uint32],
    sums: npt.NDArray[np.int64],
) -> None:
    """Add each packet (bucket `b`) to the fixed series: bytes per direction of its conversation, all
    bytes, packets, and one count per TCP analysis event it carries."""
    for i in range(b.shape[0]):
        k, w = b[i], wl[i]
        if conv[i] >= 0 and direction[i] <= 1:
            sums[direction[i], k] += w
        sums[2, k] += w
        sums[3, k] += 1
        a = analysis[i]
        if a != 0 and tcp_stream[i] >= 0:
            for j in range(event_bits.shape[0]):
                if a & event_bits[j]:
                    sums[_BASE + j, k] += 1
