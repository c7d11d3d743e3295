"""WaitsAnalyzer: where TCP connections wait, per connection (`AnalysisResult.tcp_waits`).

Definitions (tshark fields in brackets):
- Zero-window stall: from a packet flagged zero window [tcp.analysis.zero_window] to the next packet from
  the same side advertising a window > 0 [tcp.window_size]; one still open ends at the connection's last
  packet. The sender of the data is blocked for that time.
- Low-window time: the same, from a packet whose window is below `low_window_bytes` to the next one from the
  same side at or above it (SYNs, whose window is never scaled, are skipped).
- Idle: the longest gap between two consecutive packets of the connection (either direction).
- Never closed: no FIN and no RST from either side by the end of the capture; `idle_at_end_s` = capture end
  - the connection's last packet.
- SYN retries: the intervals between the first SYN and each retransmitted SYN (SYN without ACK), compared
  with RFC 6298: initial RTO 1 s, doubled after each timeout (1, 2, 4 ... s, capped at 120 s).
- Black-hole suspect: a side whose data segments of at least `pmtu_large_segment_bytes` are retransmitted
  (>= 3 times and >= 25 % of them) while none of its smaller data segments is.

The kernel runs after TCP analysis (it reads the per-packet analysis bits and scaled windows); its state is
144 bytes per stream (3 + 2 x 5 int64, 2 x 5 int32).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers.common import grow_in_place
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.packets import TCP_ACK, TCP_SYN
from pcap_analyzer.report.model_icmp import (
    BlackHoleSuspect,
    IdleConnection,
    OpenConnection,
    StalledConnection,
    SynRetry,
    TcpWaits,
)
from pcap_analyzer.tcp.model import TcpAnalysis
from pcap_analyzer.tcp.report import TcpReport, _addr
from pcap_analyzer.tcp.state import D_FIN, D_RST, S_FIRST_SYN_TS, S_FIRST_SYNACK_TS, S_FIRST_TS, S_LAST_TS
from pcap_analyzer.tcp.waits_kernel import (
    C_LARGE,
    C_LARGE_RETX,
    C_SMALL,
    C_SMALL_RETX,
    C_STALLS,
    N_C,
    N_T,
    N_X,
    NONE,
    T_GAP_FROM,
    T_LAST,
    T_MAX_GAP,
    X_LOW_START,
    X_LOW_TOTAL,
    X_ZW_MAX,
    X_ZW_START,
    X_ZW_TOTAL,
    waits_chunk,
)

BLACK_HOLE_MIN_RETX = 3
BLACK_HOLE_MIN_SHARE = 0.25
RFC6298_INITIAL_RTO_MS = 1000.0
MAX_RTO_MS = 120_000.0  # RFC 6298 allows a cap of at least 60 s; Linux's TCP_RTO_MAX is 120 s
MAX_INTERVALS = 16  # listed per connection


class WaitsAnalyzer:
    """Per-stream stall, idle and segment-size state, fed chunk by chunk after TCP analysis."""

    def __init__(
        self,
        *,
        low_window_bytes: int = 8192,
        large_segment_bytes: int = 1000,
        idle_threshold_s: float = 30.0,
        syn_rto_tolerance_pct: float = 20.0,
        max_rows: int = 50,
        max_syn_retries: int = 100_000,
    ) -> None:
        self.low_window = low_window_bytes
        self.large_segment = large_segment_bytes
        self.idle_threshold_ns = round(idle_threshold_s * 1e9)
        self.tolerance = syn_rto_tolerance_pct / 100.0
        self.max_rows = max_rows
        self.max_syn_retries = max_syn_retries
        self.streams = np.full((0, N_T), NONE, np.int64)
        self.times = np.zeros((0, 2, N_X), np.int64)
        self.counts = np.zeros((0, 2, N_C), np.int32)
        self.n = 0
        self._syn_stream: list[npt.NDArray[np.int64]] = []
        self._syn_ts: list[npt.NDArray[np.int64]] = []
        self._syn_kept = 0
        self.syn_dropped = 0

    def _grow(self, n: int) -> None:
        # In place, by a quarter (a realloc: large blocks are remapped, not copied). Concatenating by half
        # held the old and the new rows at once and left up to a third of the rows unused.
        old = self.streams.shape[0]
        if n <= old:
            return
        self.streams = grow_in_place(self.streams, n, NONE)
        self.streams[old:, T_MAX_GAP] = 0
        cap = self.streams.shape[0]
        self.times = grow_in_place(self.times, cap)
        self.times[old:, :, X_ZW_START] = NONE
        self.times[old:, :, X_LOW_START] = NONE
        self.counts = grow_in_place(self.counts, cap)

    def update(self, batch: PacketBatch) -> None:
        tcp = batch.tcp
        stream = batch.flows.tcp_stream
        if tcp is None or stream.size == 0:
            return
        top = int(stream.max())
        if top < 0:
            return
        self._grow(top + 1)
        self.n = max(self.n, top + 1)
        p = batch.packets
        waits_chunk(
            stream,
            batch.flows.direction,
            p.tcp_flags,
            p.ts_ns,
            p.payload_len,
            tcp.window,
            tcp.analysis,
            self.low_window,
            self.large_segment,
            self.streams,
            self.times,
            self.counts,
        )
        retried = (tcp.analysis & np.uint32(TcpAnalysis.SYN_RETRANSMISSION)) != 0
        syn = np.flatnonzero(retried & ((p.tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) & (stream >= 0))
        if syn.size:
            room = self.max_syn_retries - self._syn_kept
            self.syn_dropped += max(0, syn.size - room)
            syn = syn[: max(room, 0)]
            self._syn_stream.append(stream[syn])
            self._syn_ts.append(p.ts_ns[syn])
            self._syn_kept += syn.size

    def finalize(self, report: TcpReport, capture_end_ns: int | None) -> TcpWaits:
        n = min(self.n, report.streams.shape[0])
        out = TcpWaits()
        if n == 0:
            return out
        st, times, counts = self.streams[:n], self.times[:n], self.counts[:n]
        last = st[:, T_LAST]
        # stalls still open at the end last until the connection's last packet
        for col_start, col_total, col_max, col_count in (
            (X_ZW_START, X_ZW_TOTAL, X_ZW_MAX, C_STALLS),
            (X_LOW_START, X_LOW_TOTAL, -1, -1),
        ):
            open_ = times[:, :, col_start] != NONE
            since = last[:, None] - np.where(open_, times[:, :, col_start], 0)
            dur = np.where(open_, np.maximum(since, 0), 0)
            times[:, :, col_total] += dur
            if col_max >= 0:
                times[:, :, col_max] = np.maximum(times[:, :, col_max], dur)
                counts[:, :, col_count] += open_
            times[:, :, col_start] = NONE
        ends = _Endpoints(report)
        duration = (report.streams[:n, S_LAST_TS].astype(np.float64) - report.streams[:n, S_FIRST_TS]) / 1e9
        stalled = times[:, :, X_ZW_TOTAL].sum(axis=1)
        low = times[:, :, X_LOW_TOTAL].sum(axis=1)
        out.stalled_connections = int(np.count_nonzero(stalled))
        out.stalled_ms = float(stalled.sum() / 1e6)
        out.low_window_connections = int(np.count_nonzero(low))
        out.stalls = [
            self._stall(s, ends, duration[s], stalled[s], low[s], times[s], counts[s])
            for s in _rank(np.maximum(stalled, 0) + (low > 0), self.max_rows)
        ]
        gap = st[:, T_MAX_GAP]
        idle = gap >= self.idle_threshold_ns
        out.idle_connections = int(np.count_nonzero(idle))
        closed = (report.dirs[:n, :, D_FIN].sum(axis=1) + report.dirs[:n, :, D_RST].sum(axis=1)) > 0
        out.idle = [
            IdleConnection(
                stream=s,
                client=ends.client(s),
                server=ends.server(s),
                duration_s=float(duration[s]),
                longest_idle_s=float(gap[s] / 1e9),
                idle_from_ts=float(st[s, T_GAP_FROM] / 1e9),
                closed=bool(closed[s]),
                filter=f"tcp.stream == {s}",
            )
            for s in _rank(np.where(idle, gap, 0), self.max_rows)
        ]
        open_conn = ~closed & (last != NONE)
        out.never_closed_connections = int(np.count_nonzero(open_conn))
        end = capture_end_ns if capture_end_ns is not None else int(last[open_conn].max(initial=0))
        at_end = np.where(open_conn, end - np.where(open_conn, last, 0), -1)
        states = report.states()
        out.never_closed = [
            OpenConnection(
                stream=s,
                client=ends.client(s),
                server=ends.server(s),
                state=states[s],
                last_ts=float(last[s] / 1e9),
                idle_at_end_s=float(at_end[s] / 1e9),
                filter=f"tcp.stream == {s}",
            )
            for s in _rank(np.where(open_conn, at_end + 1, 0), self.max_rows)
        ]
        self._syn_retries(out, report, ends, n)
        suspects = self._black_holes(counts)
        out.black_hole_suspects = [
            BlackHoleSuspect(
                stream=s,
                sender=ends.side(s, d),
                receiver=ends.side(s, 1 - d),
                large_segments=int(counts[s, d, C_LARGE]),
                large_retransmissions=int(counts[s, d, C_LARGE_RETX]),
                small_segments=int(counts[s, d, C_SMALL]),
                small_retransmissions=int(counts[s, d, C_SMALL_RETX]),
                filter=f"tcp.stream == {s} && tcp.len >= {self.large_segment}",
            )
            for s, d in suspects[: self.max_rows]
        ]
        return out

    def _stall(
        self,
        s: int,
        ends: _Endpoints,
        duration: float,
        stalled: int,
        low: int,
        times: npt.NDArray[np.int64],
        counts: npt.NDArray[np.int32],
    ) -> StalledConnection:
        by = [ends.role(d) for d in (0, 1) if times[d, X_ZW_TOTAL] > 0 or counts[d, C_STALLS] > 0]
        return StalledConnection(
            stream=s,
            client=ends.client(s),
            server=ends.server(s),
            duration_s=float(duration),
            stalls=int(counts[:, C_STALLS].sum()),
            stalled_ms=float(stalled / 1e6),
            longest_stall_ms=float(times[:, X_ZW_MAX].max() / 1e6),
            stalled_pct=float(100.0 * stalled / 1e9 / duration) if duration > 0 else 0.0,
            low_window_ms=float(low / 1e6),
            zero_window_by="both" if len(by) == 2 else (by[0] if by else ""),
            filter=f"tcp.stream == {s} && (tcp.analysis.zero_window || tcp.analysis.window_update)",
        )

    def _black_holes(self, counts: npt.NDArray[np.int32]) -> list[tuple[int, int]]:
        large, retx = counts[:, :, C_LARGE], counts[:, :, C_LARGE_RETX]
        hit = (
            (retx >= BLACK_HOLE_MIN_RETX)
            & (retx >= BLACK_HOLE_MIN_SHARE * large)
            & (counts[:, :, C_SMALL] > 0)
            & (counts[:, :, C_SMALL_RETX] == 0)
        )
        s, d = np.nonzero(hit)
        order = np.argsort(-retx[s, d], kind="stable")
        return [(int(s[k]), int(d[k])) for k in order]

    def _syn_retries(self, out: TcpWaits, report: TcpReport, ends: _Endpoints, n: int) -> None:
        if not self._syn_stream:
            return
        stream = np.concatenate(self._syn_stream)
        ts = np.concatenate(self._syn_ts)
        keep = stream < n
        stream, ts = stream[keep], ts[keep]
        order = np.lexsort((ts, stream))
        stream, ts = stream[order], ts[order]
        streams, starts = np.unique(stream, return_index=True)
        out.syn_retry_connections = int(streams.size)
        rows: list[SynRetry] = []
        for s, lo, hi in zip(
            streams.tolist(), starts.tolist(), [*starts[1:].tolist(), stream.size], strict=True
        ):
            first = int(report.streams[s, S_FIRST_SYN_TS])
            times = ts[lo:hi].tolist()
            if first >= 0:
                times = [first, *times]
            intervals = [(b - a) / 1e6 for a, b in zip(times, times[1:], strict=False)]
            expected = [
                min(RFC6298_INITIAL_RTO_MS * 2.0 ** min(k, 8), MAX_RTO_MS)
                for k in range(len(intervals))
            ]
            ok = all(abs(i - e) <= self.tolerance * e for i, e in zip(intervals, expected, strict=True))
            out.syn_retry_nonstandard += not ok
            if len(rows) < self.max_rows:
                rows.append(
                    SynRetry(
                        stream=s,
                        client=ends.client(s),
                        server=ends.server(s),
                        syns=len(times),
                        intervals_ms=[round(i, 3) for i in intervals[:MAX_INTERVALS]],
                        expected_ms=expected[:MAX_INTERVALS],
                        rfc6298=ok,
                        answered=bool(report.streams[s, S_FIRST_SYNACK_TS] >= 0),
                        filter=f"tcp.stream == {s} && tcp.flags.syn == 1 && tcp.flags.ack == 0",
                    )
                )
        rows.sort(key=lambda r: (r.rfc6298, r.stream))
        out.syn_retries = rows

    def limits(self) -> dict[str, int]:
        return {"tcp_wait_rows": self.max_rows, "syn_retries_untracked": self.syn_dropped}


class _Endpoints:
    """Client and server text of a stream, from the TCP report's flow table."""

    def __init__(self, report: TcpReport) -> None:
        self.ft = report.flow_table
        self.row = report._stream_index().flow_row if self.ft is not None else None

    def side(self, s: int, d: int) -> str:
        if self.ft is None or self.row is None or self.row[s] < 0:
            return ""
        r = int(self.row[s])
        ft = self.ft
        hi, lo, port = (ft.a_hi, ft.a_lo, ft.a_port) if d == 0 else (ft.b_hi, ft.b_lo, ft.b_port)
        addr = _addr(hi[r], lo[r])
        return f"[{addr}]:{int(port[r])}" if ":" in addr else f"{addr}:{int(port[r])}"

    def client(self, s: int) -> str:
        return self.side(s, 0)

    def server(self, s: int) -> str:
        return self.side(s, 1)

    @staticmethod
    def role(d: int) -> str:
        return "client" if d == 0 else "server"


def _rank(score: npt.NDArray[np.generic], limit: int) -> list[int]:
    """Streams with score > 0, highest first (then by stream), at most `limit`."""
    s = np.asarray(score, np.float64)
    idx = np.flatnonzero(s > 0)
    order = np.lexsort((idx, -s[idx]))[:limit]
    return idx[order].tolist()
