"""TcpReport: the TCP stage's final result, and its conversion to the report models."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pcap_analyzer.flows.model import FlowTable
from pcap_analyzer.report.model import (
    ConnectionDetail,
    FlaggedPacket,
    Stats,
    TcpConnection,
    TcpServer,
    TcpSummary,
)
from pcap_analyzer.tcp.model import TcpAnalysis
from pcap_analyzer.tcp.samples import Samples
from pcap_analyzer.tcp.state import (
    B_WINSCALE,
    D_DATA,
    D_PACKETS,
    D_RST,
    D_SYN,
    D_SYNACK,
    S_FIRST_FRAME,
    S_FIRST_RTT,
    S_FIRST_SYN_TS,
    S_FIRST_SYNACK_TS,
    S_FIRST_TS,
    S_HS_ACK_TS,
    S_LAST_TS,
    S_RTO_TIME,
    W_PAYLOAD,
)
from pcap_analyzer.tcp.states import conn_states

if TYPE_CHECKING:
    from pcap_analyzer.tcp.series import SeriesStore

_BIT = {f: f.value.bit_length() - 1 for f in TcpAnalysis}
_NAMES = [(int(f.value), str(f.name).lower()) for f in TcpAnalysis]
# Badness score weights (per flagged packet); the sum ranks connections in `connections()`.
SCORE_WEIGHTS = {
    TcpAnalysis.RETRANSMISSION: 3.0, TcpAnalysis.LOST_SEGMENT: 3.0, TcpAnalysis.ZERO_WINDOW: 2.0,
    TcpAnalysis.WINDOW_FULL: 1.0, TcpAnalysis.DUPLICATE_ACK: 0.5, TcpAnalysis.OUT_OF_ORDER: 1.0,
    TcpAnalysis.RST: 5.0, TcpAnalysis.SYN_RETRANSMISSION: 10.0,
}


@functools.cache
def flag_names(bits: int) -> tuple[str, ...]:
    """Lower-case TcpAnalysis names set in `bits` (cached: a capture has few distinct bit sets)."""
    return tuple(name for value, name in _NAMES if bits & value)


def _ms(x: float) -> float:
    """Samples are float32: drop the digits below 1 ns they cannot hold."""
    return round(float(x), 6)


def stats_ms(seconds: npt.NDArray[np.floating]) -> Stats:
    """Stats (ms) of a sample in seconds; NumPy linear-interpolation percentiles, as the oracle."""
    if seconds.size == 0:
        return Stats()
    v = seconds.astype(np.float64)
    v *= 1e3  # in place: the RTT sample can hold millions of values
    lo, hi, mean = _ms(v.min()), _ms(v.max()), _ms(v.mean())
    # percentiles depend only on the values, so partitioning `v` in place (no copy) is safe after the mean
    median = _ms(np.percentile(v, 50, overwrite_input=True))
    p95 = _ms(np.percentile(v, 95, overwrite_input=True))
    return Stats(count=int(v.size), min=lo, median=median, p95=p95, max=hi, mean=mean)


def _percentiles(ordered: npt.NDArray[np.float64], start: npt.NDArray[np.int64], n: npt.NDArray[np.int64],
                 q: int) -> npt.NDArray[np.float64]:
    """np.percentile(group, q) ('linear') of every group ordered[start:start + n] (sorted, n >= 1).

    The same float operations as NumPy's, element-wise, so the values are identical.
    """
    virtual = (n - 1) * np.true_divide(q, 100)
    prev = np.floor(virtual)
    gamma = virtual - prev
    last = virtual >= n - 1
    lo = start + np.where(last, n - 1, prev.astype(np.int64))
    hi = start + np.where(last, n - 1, prev.astype(np.int64) + 1)
    a, b = ordered[lo], ordered[hi]
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


def group_stats_ms(seconds: npt.NDArray[np.floating], order: npt.NDArray[np.int64],
                   bounds: npt.NDArray[np.int64]) -> list[Stats]:
    """`stats_ms(seconds[order[bounds[g]:bounds[g + 1]]])` of every group g, in one vectorised pass."""
    v = seconds[order].astype(np.float64)
    v *= 1e3
    start, n = bounds[:-1], np.diff(bounds)
    filled = n > 0
    groups = np.flatnonzero(filled).tolist()
    means = [v[bounds[g] : bounds[g + 1]].mean() for g in groups]  # capture order, as stats_ms sums
    for lo, hi in zip(start.tolist(), bounds[1:].tolist(), strict=True):
        v[lo:hi].sort()  # each group in place, once its mean is taken: no copy as large as the sample
    s, c = start[filled], n[filled]
    lo, hi = v[s], v[s + c - 1]
    median, p95 = _percentiles(v, s, c, 50), _percentiles(v, s, c, 95)
    out = [Stats() for _ in range(n.size)]
    for k, g in enumerate(groups):
        out[g] = Stats(count=int(c[k]), min=_ms(lo[k]), median=_ms(median[k]), p95=_ms(p95[k]),
                       max=_ms(hi[k]), mean=_ms(means[k]))
    return out


def _addr(hi: int, lo: int) -> str:
    hi, lo = int(hi), int(lo)
    if hi == 0 and (lo >> 32) == 0xFFFF:
        return str(ipaddress.IPv4Address(lo & 0xFFFF_FFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


@dataclass(slots=True)
class _StreamIndex:
    """Per-stream lookups for `TcpReport.connection`, built once (rows of a stream in capture order).

    RTT rows are grouped only for the streams `connections()` lists (`rtt_covered`): grouping all
    samples would take an index array as large as the sample itself.
    """

    handshake: npt.NDArray[np.float64]
    flow_row: npt.NDArray[np.int64]  # first FlowTable row of each stream, -1 = none
    rtt_covered: npt.NDArray[np.bool_]
    rtt_order: npt.NDArray[np.int64]
    rtt_bounds: npt.NDArray[np.int64]
    flag_order: npt.NDArray[np.int64]
    flag_bounds: npt.NDArray[np.int64]


def _groups(stream: npt.NDArray[np.integer], n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(order, bounds): the indices of stream s (0 <= s < n) are order[bounds[s]:bounds[s + 1]], in their own
    order. Bounds come from per-stream counts, so no sorted copy as large as `stream` is made."""
    order = np.argsort(stream, kind="stable")
    bounds = np.zeros(n + 2, np.int64)
    np.cumsum(np.bincount(stream, minlength=n)[:n], out=bounds[1 : n + 1])
    bounds[n + 1] = bounds[n]
    return order, bounds


@dataclass
class TcpReport:
    """Per-stream arrays (index = tcp.stream) + samples; see the `TcpAnalyzer` docstring."""

    dirs: npt.NDArray[np.int32]  # (streams, 2, D_*) final per-direction counters (tcp/state.py)
    small: npt.NDArray[np.int8]  # (streams, 2, B_*) window scale and flags
    wide: npt.NDArray[np.int64]  # (streams, 2, W_*) per-direction times and payload bytes
    streams: npt.NDArray[np.int64]  # (streams, S_*)
    counts: npt.NDArray[np.int32]  # (streams, 18) packets carrying each TcpAnalysis bit
    rtt: Samples  # tcp.analysis.ack_rtt samples
    rto: Samples  # tcp.analysis.rto samples
    flagged: tuple[npt.NDArray[np.integer], ...]  # stream, frame, ts_ns, direction, analysis bits
    series: SeriesStore
    first_ts_ns: int
    packets: int
    flow_table: FlowTable | None = None
    _states: list[str] | None = field(default=None, repr=False)
    _index: _StreamIndex | None = field(default=None, repr=False)

    def count(self, flag: TcpAnalysis) -> int:
        """Capture-wide packets carrying `flag`."""
        return int(self.counts[:, _BIT[flag]].sum())

    def handshake_s(self) -> npt.NDArray[np.float64]:
        """Per stream with both: first SYN -> first SYN/ACK (NaN otherwise)."""
        syn, synack = self.streams[:, S_FIRST_SYN_TS], self.streams[:, S_FIRST_SYNACK_TS]
        return np.where((syn >= 0) & (synack >= 0), (synack - syn) / 1e9, np.nan)

    def synack_to_ack_s(self) -> npt.NDArray[np.float64]:
        """Per stream: first SYN/ACK -> initiator's first ACK (NaN when not seen)."""
        synack, ack = self.streams[:, S_FIRST_SYNACK_TS], self.streams[:, S_HS_ACK_TS]
        return np.where((synack >= 0) & (ack >= 0), (ack - synack) / 1e9, np.nan)

    def initial_rtt_s(self) -> npt.NDArray[np.float64]:
        """tcp.analysis.initial_rtt per stream (NaN when unknown)."""
        v = self.streams[:, S_FIRST_RTT]
        return np.where(v != 0, v / 1e9, np.nan)

    def window_scale(self) -> npt.NDArray[np.int8]:
        """(streams, 2) shift per direction: -1 unknown (handshake not seen), -2 not used."""
        return self.small[:, :, B_WINSCALE]

    def states(self) -> list[str]:
        """Zeek conn_state per stream."""
        if self._states is None:
            self._states = conn_states(self.dirs, self.streams)
        return self._states

    def summary(self) -> TcpSummary:
        """Capture-wide TCP figures (`report.model.TcpSummary`)."""
        d, syn_ack_seen = self.dirs, self.streams[:, S_FIRST_SYNACK_TS] >= 0
        refused, never = self.refused_and_never_answered()
        hs = self.handshake_s()
        irtt = self.initial_rtt_s()
        c = self.count
        return TcpSummary(
            conversations=int(d.shape[0]), packets=self.packets,
            payload_bytes=int(self.wide[:, :, W_PAYLOAD].sum()), data_segments=int(d[:, :, D_DATA].sum()),
            retransmissions=c(TcpAnalysis.RETRANSMISSION),
            fast_retransmissions=c(TcpAnalysis.FAST_RETRANSMISSION),
            spurious_retransmissions=c(TcpAnalysis.SPURIOUS_RETRANSMISSION),
            rto_retransmissions=c(TcpAnalysis.RTO_RETRANSMISSION), out_of_order=c(TcpAnalysis.OUT_OF_ORDER),
            lost_segments=c(TcpAnalysis.LOST_SEGMENT), ack_lost_segments=c(TcpAnalysis.ACK_LOST_SEGMENT),
            duplicate_acks=c(TcpAnalysis.DUPLICATE_ACK), zero_windows=c(TcpAnalysis.ZERO_WINDOW),
            zero_window_probes=c(TcpAnalysis.ZERO_WINDOW_PROBE), window_full=c(TcpAnalysis.WINDOW_FULL),
            window_updates=c(TcpAnalysis.WINDOW_UPDATE), keep_alives=c(TcpAnalysis.KEEP_ALIVE),
            resets=c(TcpAnalysis.RST), syn=int(self.syn_frames()), syn_ack=int(self.synack_frames()),
            syn_retransmissions=c(TcpAnalysis.SYN_RETRANSMISSION),
            unanswered_connections=int(((self.streams[:, S_FIRST_SYN_TS] >= 0) & ~syn_ack_seen).sum()),
            refused_connections=int(refused.sum()), never_answered_connections=int(never.sum()),
            rto_wait_ms=float(self.streams[:, S_RTO_TIME].sum() / 1e6),
            connection_time_s=float(self.durations_s().sum()),
            ack_rtt_ms=stats_ms(self.rtt.value), handshake_ms=stats_ms(hs[~np.isnan(hs)]),
            initial_rtt_ms=stats_ms(irtt[~np.isnan(irtt)]), rto_ms=stats_ms(self.rto.value),
        )

    def refused_and_never_answered(self) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Per stream: SYN answered by RST (Zeek REJ); SYN answered by neither SYN/ACK nor RST."""
        refused = np.array([s == "REJ" for s in self.states()], np.bool_)
        syn_only = (self.streams[:, S_FIRST_SYN_TS] >= 0) & (self.streams[:, S_FIRST_SYNACK_TS] < 0)
        return refused, syn_only & ~refused

    def durations_s(self) -> npt.NDArray[np.float64]:
        """Per stream: last packet - first packet (float: damaged stamps overflow int64 differences)."""
        return (self.streams[:, S_LAST_TS].astype(np.float64) - self.streams[:, S_FIRST_TS]) / 1e9

    def servers(self, limit: int = 200, slow_handshake_ms: float = 200.0) -> list[TcpServer]:
        """Per server endpoint (responder address and port), figures over ALL its connections: the
        `limit` most affected (retransmissions, then refused/unanswered attempts, then connections)."""
        ft, n = self.flow_table, self.streams.shape[0]
        if ft is None or n == 0:
            return []
        row = self._stream_index().flow_row
        has = np.flatnonzero(row >= 0)
        if has.size == 0:
            return []
        r = row[has]
        hi, lo, port = ft.b_hi[r], ft.b_lo[r], ft.b_port[r].astype(np.uint64)
        order = np.lexsort((port, lo, hi))
        k = (hi[order], lo[order], port[order])
        new = np.ones(order.size, np.bool_)
        new[1:] = (k[0][1:] != k[0][:-1]) | (k[1][1:] != k[1][:-1]) | (k[2][1:] != k[2][:-1])
        group = np.empty(order.size, np.int64)
        group[order] = np.cumsum(new) - 1
        first = order[new]
        g = int(new.sum())

        def total(values: npt.NDArray[np.generic]) -> npt.NDArray[np.float64]:
            return np.bincount(group, weights=np.asarray(values, np.float64)[has], minlength=g)

        retr = self.counts[:, _BIT[TcpAnalysis.RETRANSMISSION]]
        rto = self.streams[:, S_RTO_TIME]
        refused, never = self.refused_and_never_answered()
        cols = {
            "connections": np.bincount(group, minlength=g),
            "data_segments": total(self.dirs[:, :, D_DATA].sum(axis=1)),
            "retransmissions": total(retr), "affected_connections": total(retr > 0),
            "rto_wait_ms": total(rto) / 1e6, "rto_connections": total(rto > 0),
            "connection_time_s": total(self.durations_s()), "refused": total(refused),
            "never_answered": total(never),
            "reset_connections": total((self.dirs[:, :, D_RST].sum(axis=1) > 0) & ~refused & ~never),
        }
        hs_ms = self._stream_index().handshake * 1e3
        cols["slow_handshakes"] = total(hs_ms > slow_handshake_ms)  # NaN (no handshake) is not slow
        worst = np.full(g, -np.inf)
        np.maximum.at(worst, group, np.nan_to_num(hs_ms[has], nan=-np.inf))
        rank = np.lexsort((-cols["connections"], -(cols["refused"] + cols["never_answered"]),
                           -cols["retransmissions"]))[:limit]
        # ACK RTT of each listed server over all its samples
        # One row per RTT sample (millions on a long capture): int32 keys, each temporary freed once used.
        listed = np.full(g, -1, np.int32)
        listed[rank] = np.arange(rank.size)
        of_stream = np.full(n, -1, np.int32)
        of_stream[has] = listed[group]
        sample_server = of_stream[self.rtt.stream]
        rows = np.flatnonzero(sample_server >= 0)
        keys = sample_server[rows]
        del sample_server
        order, bounds = _groups(keys, rank.size)
        del keys
        rows = rows[order]
        del order
        rtt = group_stats_ms(self.rtt.value, rows, bounds[: rank.size + 1])
        out = []
        for j in rank.tolist():
            f = int(r[first[j]])
            vals = {name: col[j].item() for name, col in cols.items()}
            vals["worst_handshake_ms"] = float(worst[j]) if np.isfinite(worst[j]) else None
            for name in vals:
                if name not in ("rto_wait_ms", "connection_time_s", "worst_handshake_ms"):
                    vals[name] = int(vals[name])
            addr = _addr(ft.b_hi[f], ft.b_lo[f])
            server = f"[{addr}]:{int(ft.b_port[f])}" if ":" in addr else f"{addr}:{int(ft.b_port[f])}"
            out.append(TcpServer(server=server, rtt_ms=rtt[len(out)], **vals))
        return out

    def syn_frames(self) -> int:
        """Packets with SYN and not ACK (initiator side SYNs; a SYN/ACK is counted apart)."""
        return int(self.dirs[:, :, D_SYN].sum()) - self.synack_frames()

    def synack_frames(self) -> int:
        """SYN/ACK packets (kept as the SYN count of the side that answered)."""
        return int(self.dirs[:, :, D_SYNACK].sum())

    def scores(self) -> npt.NDArray[np.float64]:
        """Badness per stream: weighted flagged-packet counts plus 1 per second of RTO waiting."""
        score = self.streams[:, S_RTO_TIME] / 1e9
        for flag, w in SCORE_WEIGHTS.items():
            score = score + w * self.counts[:, _BIT[flag]]
        return np.asarray(score, np.float64)

    def connections(self, limit: int = 50) -> list[TcpConnection]:
        """The `limit` worst connections (highest `scores()` first, then by stream)."""
        scores = self.scores()
        order = np.lexsort((np.arange(scores.size), -scores))[:limit]
        ix = self._stream_index(order)
        bounds = np.concatenate(([0], np.cumsum(np.diff(ix.rtt_bounds)[order])))
        rows = np.concatenate([ix.rtt_order[ix.rtt_bounds[s] : ix.rtt_bounds[s + 1]] for s in order] or [[]])
        rtt = group_stats_ms(self.rtt.value, rows.astype(np.int64, copy=False), bounds)
        return [self.connection(int(s), float(scores[s]), rtt[k]) for k, s in enumerate(order)]

    def endpoints(self, streams: list[int]) -> dict[int, tuple[str, int, str, int]]:
        """Per stream: (client, client port, server, server port), as in `connection()` (empty/0 when the
        stream has no flow row)."""
        ft, row = self.flow_table, self._stream_index().flow_row
        out: dict[int, tuple[str, int, str, int]] = {}
        for s in streams:
            r = int(row[s]) if ft is not None and 0 <= s < row.size else -1
            if ft is None or r < 0:
                out[s] = ("", 0, "", 0)
                continue
            client, server = _addr(ft.a_hi[r], ft.a_lo[r]), _addr(ft.b_hi[r], ft.b_lo[r])
            out[s] = (client, int(ft.a_port[r]), server, int(ft.b_port[r]))
        return out

    def connection(self, s: int, score: float = 0.0, rtt_ms: Stats | None = None) -> TcpConnection:
        """One `TcpConnection` row (endpoints and bytes from the FlowTable when given; `rtt_ms` = the
        stream's RTT stats when already computed)."""
        d, st, cnt = self.dirs[s], self.streams[s], self.counts[s]
        client, sport, server, dport = "", 0, "", 0
        pk = (int(d[0, D_PACKETS]), int(d[1, D_PACKETS]))
        by = (0, 0)
        ft = self.flow_table
        ix = self._stream_index()
        if ft is not None:
            r = int(ix.flow_row[s])
            if r >= 0:
                client, sport = _addr(ft.a_hi[r], ft.a_lo[r]), int(ft.a_port[r])
                server, dport = _addr(ft.b_hi[r], ft.b_lo[r]), int(ft.b_port[r])
                by = (int(ft.bytes_ab[r]), int(ft.bytes_ba[r]))
        duration = (float(st[S_LAST_TS]) - float(st[S_FIRST_TS])) / 1e9  # float: damaged stamps overflow
        payload = (int(self.wide[s, 0, W_PAYLOAD]), int(self.wide[s, 1, W_PAYLOAD]))
        data = int(d[:, D_DATA].sum())
        if rtt_ms is None:
            if ix.rtt_covered[s]:
                rtt_ms = stats_ms(self.rtt.value[ix.rtt_order[ix.rtt_bounds[s] : ix.rtt_bounds[s + 1]]])
            else:
                rtt_ms = stats_ms(self.rtt.value[self.rtt.stream == s])
        hs = ix.handshake[s]
        retr = int(cnt[_BIT[TcpAnalysis.RETRANSMISSION]])
        keep = ix.flag_order[ix.flag_bounds[s] : ix.flag_bounds[s + 1]]
        frames, stamps, dirs, bits = (self.flagged[k][keep] for k in (1, 2, 3, 4))
        flagged = [
            FlaggedPacket(frame=f, ts=t, direction=dd, flags=list(flag_names(a)))
            for f, t, dd, a in zip(frames.tolist(), (stamps / 1e9).tolist(), dirs.tolist(), bits.tolist(),
                                   strict=True)
        ]
        return TcpConnection(
            stream=s, client=client, client_port=sport, server=server, server_port=dport,
            first_frame=int(st[S_FIRST_FRAME]), first_ts=float(st[S_FIRST_TS]) / 1e9,
            duration_s=float(duration),
            packets_ab=pk[0], packets_ba=pk[1], bytes_ab=by[0], bytes_ba=by[1],
            payload_ab=payload[0], payload_ba=payload[1],
            throughput_bps=float(sum(payload) * 8 / duration) if duration > 0 else 0.0,
            handshake_ms=None if np.isnan(hs) else float(hs * 1e3), rtt_ms=rtt_ms,
            retransmissions=retr, retransmission_pct=100.0 * retr / data if data else 0.0,
            fast_retransmissions=int(cnt[_BIT[TcpAnalysis.FAST_RETRANSMISSION]]),
            duplicate_acks=int(cnt[_BIT[TcpAnalysis.DUPLICATE_ACK]]),
            lost_segments=int(cnt[_BIT[TcpAnalysis.LOST_SEGMENT]]),
            out_of_order=int(cnt[_BIT[TcpAnalysis.OUT_OF_ORDER]]),
            zero_windows=int(cnt[_BIT[TcpAnalysis.ZERO_WINDOW]]),
            window_full=int(cnt[_BIT[TcpAnalysis.WINDOW_FULL]]),
            resets=int(d[0, D_RST] + d[1, D_RST]), state=self.states()[s],
            rto_time_ms=float(st[S_RTO_TIME] / 1e6), score=score, flagged=flagged,
        )

    def _stream_index(self, rtt_streams: npt.NDArray[np.int64] | None = None) -> _StreamIndex:
        """The lookups (built on first use; `rtt_streams` = streams whose RTT rows get grouped)."""
        ix = self._index
        if ix is None or rtt_streams is not None and not ix.rtt_covered[rtt_streams].all():
            n = self.streams.shape[0]
            flow_row = np.full(n, -1, np.int64)
            if self.flow_table is not None:
                ts = self.flow_table.tcp_stream
                rows = np.flatnonzero((ts >= 0) & (ts < n))[::-1]  # reversed, so the first row wins
                flow_row[ts[rows]] = rows
            covered = np.zeros(n, np.bool_)
            if rtt_streams is not None:
                covered[rtt_streams] = True
            rows = np.flatnonzero(covered[self.rtt.stream])
            order, bounds = _groups(self.rtt.stream[rows], n)
            self._index = _StreamIndex(self.handshake_s(), flow_row, covered, rows[order], bounds,
                                       *_groups(self.flagged[0], n))
        return self._index

    def details(self, streams: list[int]) -> list[ConnectionDetail]:
        """Drill-down series for `streams` (those that hold a series slot; see `tcp/series.py`)."""
        out = []
        for s in streams:
            data_dir = int(self.wide[s, 1, W_PAYLOAD] > self.wide[s, 0, W_PAYLOAD])
            got = self.series.get(s, data_dir)
            if got is None:
                continue
            seq, ack = got
            out.append(ConnectionDetail(
                stream=s,
                seq=[(float(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in seq],
                ack=[(float(r[0]), int(r[1])) for r in ack],
                window=[(float(r[0]), int(r[2])) for r in ack],
            ))
        return out
