"""TCP timing of the connections that carry application exchanges, with the time of each sample.

Runs after TCP analysis (it reads the per-packet tcp.analysis results) on the connections an
application analyzer marked (`http_since`: per tcp.stream, the chunk where it was found, see
analyzers/http.py; only streams found by the chunk at hand count, which keeps the result independent of
thread timing): ACK RTT samples, waits for
retransmission timeouts (tshark's tcp.analysis.rto before a timeout-driven retransmission) and zero-window
stalls (a zero window advertised, until the same side's next window update, tcp.analysis.window_update). The
masks are NumPy; only the marked connections' few flagged packets are kept.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers.latency import StreamTiming
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.tcp.model import TcpAnalysis

_RTO = int(TcpAnalysis.RTO_RETRANSMISSION)
_ZW = int(TcpAnalysis.ZERO_WINDOW)
_WU = int(TcpAnalysis.WINDOW_UPDATE)


class AppTiming:
    """Collects `StreamTiming` for the streams any of `marked` marks: each callable returns an array by
    tcp.stream of the 1-based chunk from which the stream counts, or None while it marks none (e.g.
    `HttpAnalyzer.marks`; another application analyzer, such as TLS, adds its own)."""

    def __init__(self, *marked: Callable[[], npt.NDArray[np.int32] | None],
                 max_samples: int = 2_000_000) -> None:
        self._marked = marked
        self.chunks = 0
        self.max_samples = max_samples
        self._rtt: list[tuple[np.ndarray, ...]] = []
        self._events: list[tuple[np.ndarray, ...]] = []
        self._n = 0

    def update(self, batch: PacketBatch) -> None:
        t = batch.tcp
        self.chunks += 1
        if t is None or len(batch.packets) == 0:
            return
        s = batch.flows.tcp_stream
        on = None
        for source in self._marked:
            marked = source()
            if marked is None:  # nothing marked yet
                continue
            if on is None:
                on = np.zeros(s.size, np.bool_)
            inside = (s >= 0) & (s < marked.size)
            on[inside] |= marked[s[inside]] <= self.chunks
        if on is None:
            return
        if not on.any():
            return
        p = batch.packets
        rtt = np.flatnonzero(on & (t.ack_rtt_ns >= 0))
        if rtt.size and self._n < self.max_samples:
            self._rtt.append((s[rtt], p.ts_ns[rtt], t.ack_rtt_ns[rtt], batch.flows.direction[rtt]))
            self._n += rtt.size
        ev = np.flatnonzero(on & ((t.analysis & (_RTO | _ZW | _WU)) != 0))
        if ev.size:
            self._events.append((s[ev], p.ts_ns[ev], batch.flows.direction[ev], t.analysis[ev], t.rto_ns[ev]))

    def finalize(self, initial_rtt_ns: npt.NDArray[np.int64]) -> StreamTiming:
        out = StreamTiming(initial_rtt_ns=initial_rtt_ns)
        if self._rtt:
            cols = (np.concatenate(c) for c in zip(*self._rtt, strict=True))
            out.rtt_stream, out.rtt_ts, out.rtt_ns, out.rtt_dir = cols
        if not self._events:
            return out
        s, ts, d, bits, rto = (np.concatenate(c) for c in zip(*self._events, strict=True))
        starts, ends, streams, kinds = [], [], [], []
        r = np.flatnonzero((bits & _RTO) != 0)
        starts.append(ts[r] - np.maximum(rto[r], 0))
        ends.append(ts[r])
        streams.append(s[r])
        kinds.append(np.zeros(r.size, np.int8))
        open_at: dict[tuple[int, int], int] = {}
        zs, ze, zst = [], [], []
        for k in np.flatnonzero((bits & (_ZW | _WU)) != 0).tolist():
            key = (int(s[k]), int(d[k]))
            if bits[k] & _ZW:
                open_at.setdefault(key, int(ts[k]))
            elif key in open_at:
                zs.append(open_at.pop(key))
                ze.append(int(ts[k]))
                zst.append(key[0])
        starts.append(np.array(zs, np.int64))
        ends.append(np.array(ze, np.int64))
        streams.append(np.array(zst, np.int64))
        kinds.append(np.ones(len(zs), np.int8))
        out.stall_start, out.stall_end = np.concatenate(starts), np.concatenate(ends)
        out.stall_stream, out.stall_kind = np.concatenate(streams).astype(np.int64), np.concatenate(kinds)
        return out
