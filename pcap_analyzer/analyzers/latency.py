"""Where the time of application exchanges goes: network, server and transfer time per server.

Consumes a generic list of `AppExchange` (HTTP requests today; TLS handshakes or others can be fed the
same way) and the TCP timing of their connections (`StreamTiming`, from `analyzers/app_timing.py`):

- network time: the connection's round-trip time near the exchange. An ACK RTT sample
  (tcp.analysis.ack_rtt) times only the leg between the capture point and the side that acknowledges, so
  the RTT is the lowest sample of each direction within `WINDOW_NS` of the exchange, summed (the lowest,
  because a delayed ACK only ever adds to a sample). Without samples in both directions it is the
  handshake RTT (tcp.analysis.initial_rtt, the whole path wherever the capture was taken), else the one
  leg seen. Capped at the wait for the first response byte.
- server time: request -> first response byte, minus one RTT, not below 0.
- transfer time: first -> last response byte; of it, the time inside retransmission-timeout waits of the
  connection and inside zero-window stalls are reported apart.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from pcap_analyzer.report.model_http import LatencyServer

WINDOW_NS = 1_000_000_000
PARTS = ("network", "server", "transfer")


@dataclass(slots=True, frozen=True)
class AppExchange:
    """One request and its response on a TCP connection (times in ns since the epoch)."""

    kind: str  # "http", "tls", ...
    server: str  # host name, else address:port
    stream: int  # tcp.stream
    start_ns: int  # request sent (for HTTP: the segment completing the request head)
    first_response_ns: int
    last_response_ns: int
    request_frame: int


@dataclass(slots=True)
class StreamTiming:
    """TCP timing of the connections that carry exchanges (per-sample times, unlike the TCP report).

    `rtt_*`: ACK RTT samples (stream, time, RTT ns, direction of the ACK); `stall_*`: intervals (stream,
    start, end, kind) when
    the sender waited for a retransmission timeout (kind 0) or on a zero window (kind 1).
    `initial_rtt_ns`: per tcp.stream, tcp.analysis.initial_rtt in ns (0 = unknown).
    """

    rtt_stream: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    rtt_ts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    rtt_ns: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    rtt_dir: npt.NDArray[np.uint8] = field(default_factory=lambda: np.zeros(0, np.uint8))
    stall_stream: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    stall_start: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    stall_end: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    stall_kind: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros(0, np.int8))
    initial_rtt_ns: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))


def _by_stream(stream: npt.NDArray[np.int64], *cols: npt.NDArray) -> dict[int, tuple]:
    """{stream: (col[rows of that stream] ...)}, rows in time order."""
    out: dict[int, tuple] = {}
    if stream.size == 0:
        return out
    order = np.lexsort((cols[0], stream))
    s = stream[order]
    cuts = np.flatnonzero(np.diff(s)) + 1
    for part in np.split(order, cuts):
        out[int(stream[part[0]])] = tuple(c[part] for c in cols)
    return out


def _overlap(starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64], lo: int, hi: int) -> int:
    """Time (ns) of [lo, hi] covered by the union of the intervals."""
    a, b = np.maximum(starts, lo), np.minimum(ends, hi)
    keep = b > a
    if not keep.any():
        return 0
    a, b = a[keep], b[keep]
    order = np.argsort(a)
    total, cur_a, cur_b = 0, int(a[order[0]]), int(b[order[0]])
    for x, y in zip(a[order[1:]].tolist(), b[order[1:]].tolist(), strict=True):
        if x > cur_b:
            total += cur_b - cur_a
            cur_a, cur_b = x, y
        else:
            cur_b = max(cur_b, y)
    return total + cur_b - cur_a


def exchange_parts(exchanges: list[AppExchange], timing: StreamTiming) -> npt.NDArray[np.float64]:
    """Per exchange, ms: network, server, transfer, RTO wait, zero-window wait (rows in input order)."""
    rtt = _by_stream(timing.rtt_stream, timing.rtt_ts, timing.rtt_ns, timing.rtt_dir)
    stalls = _by_stream(timing.stall_stream, timing.stall_start, timing.stall_end, timing.stall_kind)
    init = timing.initial_rtt_ns
    out = np.zeros((len(exchanges), 5), np.float64)
    for k, e in enumerate(exchanges):
        legs = [-1, -1]
        got = rtt.get(e.stream)
        if got is not None:
            ts, val, side = got
            lo, hi = np.searchsorted(ts, [e.start_ns - WINDOW_NS, e.last_response_ns + WINDOW_NS])
            for d in (0, 1):
                near = val[lo:hi][side[lo:hi] == d]
                if near.size:
                    legs[d] = int(near.min())
        handshake = int(init[e.stream]) if e.stream < init.size and init[e.stream] > 0 else -1
        best = legs[0] + legs[1] if min(legs) >= 0 else handshake if handshake >= 0 else max(legs)
        wait = max(0, e.first_response_ns - e.start_ns)
        net = min(max(best, 0), wait)
        out[k, :3] = net, wait - net, max(0, e.last_response_ns - e.first_response_ns)
        st = stalls.get(e.stream)
        if st is not None:
            a, b, kind = st
            for j in (0, 1):
                sel = kind == j
                out[k, 3 + j] = _overlap(a[sel], b[sel], e.first_response_ns, e.last_response_ns)
    return out / 1e6


def latency_breakdown(exchanges: list[AppExchange], timing: StreamTiming, limit: int = 50,
                      min_requests: int = 1) -> list[LatencyServer]:
    """Per server (of at least `min_requests` exchanges): medians of the parts and the dominant one,
    slowest median total first, at most `limit` servers."""
    if not exchanges:
        return []
    parts = exchange_parts(exchanges, timing)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for k, e in enumerate(exchanges):
        groups[(e.server, e.kind)].append(k)
    out = []
    for (server, kind), rows in groups.items():
        if len(rows) < min_requests:
            continue
        p = parts[rows]
        med = np.median(p[:, :3], axis=0)
        total = float(np.median(p[:, :3].sum(axis=1)))
        whole = float(med.sum())
        dom = int(np.argmax(med))
        slow = sorted(rows, key=lambda r: -parts[r, :3].sum())[:5]
        out.append(LatencyServer(
            server=server, kind=kind, requests=len(rows), total_ms=round(total, 6),
            time_ms=round(float(p[:, :3].sum()), 6),
            network_ms=round(float(med[0]), 6), server_ms=round(float(med[1]), 6),
            transfer_ms=round(float(med[2]), 6), retransmission_wait_ms=round(float(p[:, 3].sum()), 6),
            zero_window_ms=round(float(p[:, 4].sum()), 6), dominant=PARTS[dom] if whole > 0 else "",
            dominant_pct=round(100.0 * float(med[dom]) / whole, 2) if whole > 0 else 0.0,
            streams=sorted({exchanges[r].stream for r in rows})[:10],
            frames=[exchanges[r].request_frame for r in slow],
        ))
    out.sort(key=lambda s: (-s.total_ms, s.server))
    return out[:limit]
