"""DNS: query/response matching, response times, retransmissions, unanswered queries, rcodes, servers."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from pcap_analyzer.analyzers.common import NS, Sampler, format_addr
from pcap_analyzer.analyzers.dns_names import RCODES, qname_at, qtype_name
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.packets import PacketTable
from pcap_analyzer.report.model import DnsQueryInfo, DnsServer, DnsSummary, SeriesPoint, Stats

HIST_EDGES_MS = (
    0.0,
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    50.0,
    100.0,
    200.0,
    500.0,
    1000.0,
    2000.0,
    5000.0,
    float("inf"),
)
_DNS_QR = 0x8000


@dataclass(slots=True)
class _Txn:
    """One DNS transaction: the first query of a (conversation, id) and what answered it."""

    ts_ns: int
    frame: int
    client: str
    server: str
    name: str
    qtype: int
    answered: bool = False


@dataclass(slots=True)
class _Server:
    queries: int = 0
    unanswered: int = 0
    errors: int = 0
    times: Sampler | None = None


class DnsAnalyzer:
    """Matches responses to queries as tshark does (one transaction per conversation and DNS id).

    A query whose (conversation, id) has an unanswered transaction is a retransmission (tshark's
    dns.retransmission; like tshark 4.0 we do not compare names, so a client reusing an id before the
    answer counts as a retransmission); otherwise it opens a new transaction. The response
    time runs from the transaction's FIRST query (dns.time). A second response to an answered
    transaction is a retransmitted response (no time); a response with no transaction is unsolicited.
    `unanswered` counts transactions never answered (tshark's query frames without dns.response_in,
    minus the retransmitted ones). Memory: open transactions are capped at `max_open`; past it,
    transactions older than `stale_s` are closed (still counted), lists are capped (see `limits`).
    """

    def __init__(
        self,
        *,
        max_open: int = 200_000,
        stale_s: float = 60.0,
        max_list: int = 100,
        max_servers: int = 1000,
        max_points: int = 5000,
    ) -> None:
        self.max_open, self.stale_ns, self.max_list = max_open, int(stale_s * NS), max_list
        self.max_servers, self.max_points = max_servers, max_points
        self.queries = self.responses = self.unanswered = 0
        self.retransmitted_queries = self.retransmitted_responses = self.unsolicited = 0
        self.rcodes: dict[str, int] = {}
        self._open: dict[tuple[int, ...], _Txn] = {}
        self._times = Sampler(1_000_000)
        self._hist = np.zeros(len(HIST_EDGES_MS) - 1, np.int64)
        self._servers: dict[str, _Server] = {}
        self._unanswered_list: list[DnsQueryInfo] = []
        self._errors: list[DnsQueryInfo] = []
        self._slowest: list[tuple[float, int, DnsQueryInfo]] = []  # min-heap by response time
        self._pt, self._pv = Sampler(max_points), Sampler(max_points)
        self._origin: int | None = None
        self._chunk: list[tuple[int, float, str]] = []  # (response ts, ms, server) of the current chunk
        self._latest = 0

    def update(self, batch: PacketBatch) -> None:
        """Add one chunk (a Python loop over its DNS packets only)."""
        p, f = batch.packets, batch.flows
        if len(p) and self._origin is None:
            self._origin = int(p.ts_ns[0])
        idx = np.flatnonzero(p.is_dns)
        if idx.size == 0:
            return
        cols = zip(
            idx.tolist(),
            p.ts_ns[idx].tolist(),
            p.frame[idx].tolist(),
            f.conv[idx].tolist(),
            p.dns_id[idx].tolist(),
            p.dns_flags[idx].tolist(),
            p.dns_qtype[idx].tolist(),
            p.dns_qname_offset[idx].tolist(),
            strict=True,
        )
        for i, ts, frame, conv, ident, flags, qtype, qoff in cols:
            key = (conv, ident) if conv >= 0 else _addr_key(p, i, ident)
            self._latest = max(self._latest, ts)
            if flags & _DNS_QR:
                self._response(key, ts, frame, flags & 0xF)
            else:
                self._query(key, ts, frame, qtype, qname_at(p.buf, qoff), p, i)
        self._flush_times()
        if len(self._open) > self.max_open:
            self._purge()

    def _flush_times(self) -> None:
        """Move this chunk's response times into the bounded samplers (one NumPy call each)."""
        if not self._chunk:
            return
        ts, ms, servers = zip(*self._chunk, strict=True)
        v = np.array(ms)
        self._times.add(v)
        self._pt.add((np.array(ts) - (self._origin or 0)) / NS)
        self._pv.add(v)
        b = np.minimum(np.searchsorted(HIST_EDGES_MS, v, side="right") - 1, self._hist.size - 1)
        self._hist += np.bincount(b, minlength=self._hist.size)
        by_server: dict[str, list[float]] = {}
        for srv, x in zip(servers, ms, strict=True):
            by_server.setdefault(srv, []).append(x)
        for srv, xs in by_server.items():
            st = self._servers.get(srv)
            if st is not None and st.times is not None:
                st.times.add(xs)
        self._chunk.clear()

    def _query(
        self, key: tuple[int, ...], ts: int, frame: int, qtype: int, name: str, p: PacketTable, i: int
    ) -> None:
        self.queries += 1
        t = self._open.get(key)
        if t is not None and not t.answered:  # tshark 4.0 compares ids only, not names
            self.retransmitted_queries += 1
            return
        client = format_addr(p.src_hi[i], p.src_lo[i])
        server = format_addr(p.dst_hi[i], p.dst_lo[i])
        self._open[key] = _Txn(ts, frame, client, server, name, qtype)
        srv = self._server(server)
        if srv is not None:
            srv.queries += 1

    def _response(self, key: tuple[int, ...], ts: int, frame: int, rcode: int) -> None:
        self.responses += 1
        rname = RCODES.get(rcode, f"RCODE{rcode}")
        self.rcodes[rname] = self.rcodes.get(rname, 0) + 1
        t = self._open.get(key)
        if t is None:
            self.unsolicited += 1
            return
        if t.answered:
            self.retransmitted_responses += 1
            return
        t.answered = True
        ms = (ts - t.ts_ns) / 1e6
        self._chunk.append((ts, ms, t.server))
        srv = self._servers.get(t.server)
        if srv is not None:
            srv.errors += rcode != 0
        if rcode != 0 and len(self._errors) < self.max_list:
            self._errors.append(_info(t, rname, ms))
        if len(self._slowest) < self.max_list:
            heapq.heappush(self._slowest, (ms, -t.frame, _info(t, rname, ms)))
        elif (ms, -t.frame) > self._slowest[0][:2]:
            heapq.heapreplace(self._slowest, (ms, -t.frame, _info(t, rname, ms)))

    def _server(self, server: str) -> _Server | None:
        srv = self._servers.get(server)
        if srv is None and len(self._servers) < self.max_servers:
            srv = self._servers[server] = _Server(times=Sampler(10_000))
        return srv

    def _close_unanswered(self, t: _Txn) -> None:
        self.unanswered += 1
        srv = self._servers.get(t.server)
        if srv is not None:
            srv.unanswered += 1
        if len(self._unanswered_list) < self.max_list:
            self._unanswered_list.append(_info(t, None, None))

    def _purge(self) -> None:
        limit = self._latest - self.stale_ns
        for key in [k for k, t in self._open.items() if t.ts_ns < limit]:
            t = self._open.pop(key)
            if not t.answered:
                self._close_unanswered(t)

    def series(self) -> list[SeriesPoint]:
        """Response times over time (seconds since the first packet, ms), at most `max_points`."""
        return [
            SeriesPoint(t=float(a), v=float(b))
            for a, b in zip(self._pt.values(), self._pv.values(), strict=True)
        ]

    def finalize(self) -> DnsSummary:
        """The DNS summary; transactions still open at the end count as unanswered."""
        for t in sorted(self._open.values(), key=lambda t: t.frame):
            if not t.answered:
                self._close_unanswered(t)
        self._open.clear()
        servers = [
            DnsServer(
                server=s,
                queries=v.queries,
                unanswered=v.unanswered,
                errors=v.errors,
                response_time_ms=v.times.stats() if v.times else Stats(),
            )
            for s, v in self._servers.items()
        ]
        servers.sort(key=lambda s: (-(s.response_time_ms.median or 0.0), -s.unanswered, s.server))
        # the open-ended last bucket ends at the slowest answer (JSON has no infinity)
        edges = [*HIST_EDGES_MS[:-1], max(HIST_EDGES_MS[-2], self._times.max)]
        hist = [(edges[i], edges[i + 1], int(c)) for i, c in enumerate(self._hist) if c]
        return DnsSummary(
            queries=self.queries,
            responses=self.responses,
            unanswered=self.unanswered,
            retransmitted_queries=self.retransmitted_queries,
            unsolicited_responses=self.unsolicited,
            response_time_ms=self._times.stats() if self._times.count else Stats(),
            rcodes=dict(sorted(self.rcodes.items())),
            histogram_ms=hist,
            servers=servers[:20],
            unanswered_queries=sorted(self._unanswered_list, key=lambda q: q.frame),
            error_responses=self._errors,
            slowest_queries=[x[2] for x in sorted(self._slowest, key=lambda x: (-x[0], -x[1]))],
        )

    def limits(self) -> dict[str, int]:
        """Caps applied to the DNS lists and state."""
        return {
            "dns_lists": self.max_list,
            "dns_servers": self.max_servers,
            "dns_open_transactions": self.max_open,
            "dns_timeline_points": self.max_points,
        }


def _info(t: _Txn, rcode: str | None, ms: float | None) -> DnsQueryInfo:
    return DnsQueryInfo(
        frame=t.frame,
        ts=t.ts_ns / NS,
        client=t.client,
        server=t.server,
        name=t.name,
        qtype=qtype_name(t.qtype),
        rcode=rcode,
        response_time_ms=ms,
    )


def _addr_key(p: PacketTable, i: int, ident: int) -> tuple[int, ...]:
    a = (int(p.src_hi[i]), int(p.src_lo[i]), int(p.sport[i]))
    b = (int(p.dst_hi[i]), int(p.dst_lo[i]), int(p.dport[i]))
    return (-1, *min(a, b), *max(a, b), ident)
