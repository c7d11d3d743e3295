"""Where the time of application exchanges goes: network, server and transfer time per server and per
connection.

Consumes a generic list of `AppExchange` (HTTP requests today; TLS handshakes or others can be fed the
same way: `latency_breakdown(http.exchanges() + tls.exchanges(), timing)`, with the TLS analyzer's stream
marks given to `AppTiming` too) and the TCP timing of their connections (`StreamTiming`, from
`analyzers/app_timing.py`):

- network time: the connection's round-trip time near the exchange. An ACK RTT sample
  (tcp.analysis.ack_rtt) times only the leg between the capture point and the side that acknowledges, so
  the RTT is, for each direction, the lowest of the samples nearest the request (`NEAREST` before and
  after it, within `WINDOW_NS`), the two legs summed (the lowest, because a delayed ACK only ever adds
  to a sample). Without samples in both directions it is the
  handshake RTT (tcp.analysis.initial_rtt, the whole path wherever the capture was taken), else the one
  leg seen. Capped at the wait for the first response byte.
- server time: request -> first response byte, minus one RTT, not below 0.
- transfer time: first -> last response byte; of it, the time inside retransmission-timeout waits of the
  connection and inside zero-window stalls are reported apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from pcap_analyzer.report.model_http import LatencyConnection, LatencyServer

WINDOW_NS = 1_000_000_000
NEAREST = 4  # samples each side of the request
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
    """{stream: (col[rows of that stream] ...)}, rows in time order (cols[0] is the time)."""
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


def _nearest_low(s: npt.NDArray[np.int64], ts: npt.NDArray[np.int64], val: npt.NDArray[np.int64],
                 q_stream: npt.NDArray[np.int64], q_ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Per query, the lowest of the NEAREST samples (up to NEAREST before and NEAREST after q_ts) of the
    same stream within WINDOW_NS; -1 when none. Samples sorted by (stream, time)."""
    out = np.full(q_ts.size, -1, np.int64)
    if s.size == 0 or q_ts.size == 0:
        return out
    # (stream, time) as one sortable key: the stream, then the rank of the time among all sample times
    times = np.sort(ts)
    width = np.int64(times.size + 1)
    key = s * width + np.searchsorted(times, ts)
    pos = np.searchsorted(key, q_stream * width + np.searchsorted(times, q_ts))
    idx = np.clip(pos[:, None] + np.arange(-NEAREST, NEAREST), 0, s.size - 1)
    ok = (s[idx] == q_stream[:, None]) & (np.abs(ts[idx] - q_ts[:, None]) <= WINDOW_NS)
    low = np.where(ok, val[idx], np.iinfo(np.int64).max).min(axis=1)
    return np.where(ok.any(axis=1), low, out)


def exchange_parts(exchanges: list[AppExchange], timing: StreamTiming) -> npt.NDArray[np.float64]:
    """Per exchange, ms: network, server, transfer, RTO wait, zero-window wait (rows in input order)."""
    n = len(exchanges)
    out = np.zeros((n, 5), np.float64)
    if n == 0:
        return out
    stream = np.fromiter((e.stream for e in exchanges), np.int64, n)
    start = np.fromiter((e.start_ns for e in exchanges), np.int64, n)
    first = np.fromiter((e.first_response_ns for e in exchanges), np.int64, n)
    last = np.fromiter((e.last_response_ns for e in exchanges), np.int64, n)
    legs = []
    for d in (0, 1):
        m = timing.rtt_dir == d
        order = np.lexsort((timing.rtt_ts[m], timing.rtt_stream[m]))
        cols = (timing.rtt_stream[m][order], timing.rtt_ts[m][order], timing.rtt_ns[m][order])
        legs.append(_nearest_low(*cols, stream, start))
    init = timing.initial_rtt_ns
    handshake = np.zeros(n, np.int64)
    inside = stream < init.size
    handshake[inside] = init[stream[inside]]
    both = (legs[0] >= 0) & (legs[1] >= 0)
    rtt = np.where(both, legs[0] + legs[1],
                   np.where(handshake > 0, handshake, np.maximum(np.maximum(legs[0], legs[1]), 0)))
    wait = np.maximum(first - start, 0)
    net = np.minimum(rtt, wait)
    out[:, 0], out[:, 1], out[:, 2] = net, wait - net, np.maximum(last - first, 0)
    if timing.stall_stream.size:
        stalls = _by_stream(timing.stall_stream, timing.stall_start, timing.stall_end, timing.stall_kind)
        for k in np.flatnonzero(np.isin(stream, timing.stall_stream)).tolist():
            a, b, kind = stalls[int(stream[k])]
            for j in (0, 1):
                sel = kind == j
                out[k, 3 + j] = _overlap(a[sel], b[sel], int(first[k]), int(last[k]))
    return out / 1e6


def latency_breakdown(exchanges: list[AppExchange], timing: StreamTiming, limit: int = 50,
                      min_requests: int = 1,
                      parts: npt.NDArray[np.float64] | None = None) -> list[LatencyServer]:
    """Per server (of at least `min_requests` exchanges): medians of the parts and the dominant one,
    slowest median total first, at most `limit` servers. `parts`: `exchange_parts` when already computed."""
    if not exchanges:
        return []
    if parts is None:
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


Endpoints = dict[int, tuple[str, int, str, int]]  # tcp.stream -> (client, client port, server, server port)


def latency_connections(exchanges: list[AppExchange], parts: npt.NDArray[np.float64],
                        endpoints: Callable[[list[int]], Endpoints],
                        limit: int = 200) -> list[LatencyConnection]:
    """Per TCP connection that carried exchanges: the parts (`exchange_parts` of `exchanges`) summed and
    their medians, the dominant part of the sums, the slowest exchange; most summed time first, at most
    `limit` connections. `endpoints` gives the addresses of the listed streams."""
    n = len(exchanges)
    if n == 0 or limit <= 0:
        return []
    stream = np.fromiter((e.stream for e in exchanges), np.int64, n)
    total = parts[:, :3].sum(axis=1)
    streams, group = np.unique(stream, return_inverse=True)
    time = np.bincount(group, weights=total, minlength=streams.size)
    ranked = np.lexsort((streams, -time))[:limit]
    order = np.argsort(group, kind="stable")  # exchanges grouped by stream, input order within
    bounds = np.searchsorted(group[order], np.arange(streams.size + 1))
    ends = endpoints(streams[ranked].tolist())
    out = []
    for g in ranked.tolist():
        rows = order[bounds[g]:bounds[g + 1]].tolist()
        stream_id = int(streams[g])
        p = parts[rows]
        sums, med = p.sum(axis=0), np.median(p[:, :3], axis=0)
        whole = float(time[g])
        dom = int(np.argmax(sums[:3]))
        slow = max(rows, key=lambda r: (float(total[r]), -r))
        client, client_port, server, server_port = ends.get(stream_id, ("", 0, "", 0))
        out.append(LatencyConnection(
            stream=stream_id, client=client, client_port=client_port, server=server, server_port=server_port,
            names=list(dict.fromkeys(exchanges[r].server for r in rows)),
            kinds=sorted({exchanges[r].kind for r in rows}), exchanges=len(rows),
            time_ms=round(whole, 6), total_ms=round(float(np.median(total[rows])), 6),
            network_sum_ms=round(float(sums[0]), 6), server_sum_ms=round(float(sums[1]), 6),
            transfer_sum_ms=round(float(sums[2]), 6), network_median_ms=round(float(med[0]), 6),
            server_median_ms=round(float(med[1]), 6), transfer_median_ms=round(float(med[2]), 6),
            retransmission_wait_ms=round(float(sums[3]), 6), zero_window_ms=round(float(sums[4]), 6),
            dominant=PARTS[dom] if whole > 0 else "",
            dominant_pct=round(100.0 * float(sums[dom]) / whole, 2) if whole > 0 else 0.0,
            slowest_frame=exchanges[slow].request_frame, slowest_ms=round(float(total[slow]), 6),
        ))
    return out
