"""DNS: query/response matching, response times, retransmissions, unanswered queries, rcodes, servers."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers import dns_by_name as byname
from pcap_analyzer.analyzers import dns_kernel as k
from pcap_analyzer.analyzers.common import NS, Sampler, format_addr, grow_in_place
from pcap_analyzer.analyzers.dns_names import RCODES, qname_at, qtype_name
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.dns import DNS_PORT, LLMNR_PORT, MDNS_PORT, messages_fit
from pcap_analyzer.decode.packets import PacketTable
from pcap_analyzer.report.model import (
    DnsMessageCounts,
    DnsQueryInfo,
    DnsServer,
    DnsSummary,
    SeriesPoint,
    Stats,
)

# Response times kept per server (8 KB each, up to max_servers), evenly thinned beyond: enough for a median
# and a p95 per server.
_SERVER_SAMPLES = 1024
# DNS-format protocols counted apart (DnsSummary.by_protocol): unicast DNS over UDP and over TCP, multicast
# DNS (RFC 6762) and LLMNR (RFC 4795), by port; and DNS over UDP on other ports, found by tshark's heuristic.
PROTOCOLS = ("dns", "dns_tcp", "mdns", "llmnr", "dns_other_port")
_TCP = 6
UDP_HEADER = 8
# tshark's dns.retransmission_timer (default 5 s): a query re-sent with the same id within it, still
# unanswered, is a retransmission of the first in tshark's matching (`unanswered_query_frames`)
TSHARK_RETRANSMISSION_S = 5.0

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
# answers (or transactions) of one chunk: query ts, frame, qtype, dns_kernel.A_* rows, rcode, ms
_Opt: TypeAlias = np.ndarray | None
_Answers: TypeAlias = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, _Opt, _Opt]


class DnsAnalyzer:
    """Matches responses to queries: one transaction per conversation, DNS id and question (name, type,
    class).

    A query whose (conversation, id, question) has an unanswered transaction is a retransmission (tshark's
    dns.retransmission, except that tshark 4.0 compares ids only: a stub resolver sending random ids on one
    port reuses an id for another name now and then, which tshark takes for a retransmission and we do
    not); otherwise it opens a new transaction. The response
    time runs from the transaction's FIRST query (dns.time). A second response to an answered
    transaction is a retransmitted response (no time); a response with no transaction is unsolicited.
    `unanswered` counts transactions never answered whose first query was sent at least `timeout_s` before the
    capture ended; younger ones are `pending_at_end` (their answer may have come after the capture stopped).
    Answers slower than `slow_ms` are counted per server (`slow_answers`). The matching is one Numba pass per
    chunk (`dns_kernel.py`) over transactions kept in NumPy rows. Memory: open transactions are capped at
    `max_open`; past it, transactions older than `stale_s` are closed (still counted), lists are capped (see
    `limits`).
    """

    def __init__(
        self,
        *,
        max_open: int = 50_000,
        stale_s: float = 60.0,
        max_list: int = 100,
        max_servers: int = 1000,
        max_points: int = 5000,
        timeout_s: float = 5.0,
        slow_ms: float = 100.0,
        max_domains: int = 50,
    ) -> None:
        self.timeout_ns, self.slow_ms = int(timeout_s * NS), slow_ms
        stale_s = max(stale_s, 2 * timeout_s)
        self.pending = self.slow_answers = 0
        self._srv_extra = np.zeros((max_servers, 2), np.int64)  # pending at end, slow answers
        self.max_open, self.stale_ns, self.max_list = max_open, int(stale_s * NS), max_list
        self.max_servers, self.max_points = max_servers, max_points
        self.queries = self.responses = self.unanswered = 0
        self.retransmitted_queries = self.retransmitted_responses = self.unsolicited = 0
        self._rcodes = np.zeros(16, np.int64)
        self._by_protocol = np.zeros((len(PROTOCOLS), 2), np.int64)  # (protocol, QR bit) -> messages
        self._counts = np.zeros(4, np.int64)  # dns_kernel.C_*
        self._slots = np.full(64, k.EMPTY, np.int64)
        self._keys = np.zeros((0, k.N_KEY), np.uint64)
        self._vals = np.zeros((0, k.N_VAL), np.int64)
        self._addrs = np.zeros((0, k.N_ADDR), np.uint64)
        self.tshark_window_ns = int(TSHARK_RETRANSMISSION_S * NS)
        self._t_slots = np.full(64, k.EMPTY, np.int64)
        self._t_keys = np.zeros((0, k.N_KEY), np.uint64)
        self._t_vals = np.zeros((0, k.N_TVAL), np.int64)
        self._t_counts = np.zeros(2, np.int64)  # dns_kernel.TC_*
        self._srv_slots = np.full(1 << max(4, (2 * max_servers + 1).bit_length()), k.EMPTY, np.int64)
        self._srv_addr = np.zeros((max_servers, 2), np.uint64)
        self._srv_counts = np.zeros((max_servers, 3), np.int64)
        self._srv_times: list[Sampler] = []
        self._names: dict[int, str] = {int(k.NAME_NONE): ""}
        self._times = Sampler(250_000, per_unit=1_000_000)  # thinned beyond: quantiles stay unbiased
        self._hist = np.zeros(len(HIST_EDGES_MS) - 1, np.int64)
        self._unanswered_list: list[DnsQueryInfo] = []
        self._errors: list[DnsQueryInfo] = []
        self._slowest: list[tuple[float, int, DnsQueryInfo]] = []  # (ms, frame, info), slowest first
        self._pt, self._pv = Sampler(max_points), Sampler(max_points)
        self._origin: int | None = None
        self.max_domains, self._by_name = max_domains, byname.NameCounts()

    @property
    def open_transactions(self) -> int:
        """Transactions currently kept (answered ones stay until stale, to spot repeated answers)."""
        return int(self._counts[k.C_OPEN])

    def update(self, batch: PacketBatch) -> None:
        """Add one chunk: its DNS packets (UDP, and TCP when the batch has no reassembled messages), then the
        DNS messages reassembled from TCP (`batch.dns_tcp`); one Numba pass each, then NumPy per outcome."""
        p, f = batch.packets, batch.flows
        if len(p) and self._origin is None:
            self._origin = int(p.ts_ns[0])
        msgs = batch.dns_tcp
        dns = p.is_dns if msgs is None else p.is_dns & (p.ip_proto != _TCP)
        idx = np.flatnonzero(dns)
        if idx.size:
            self._count_protocols(p.sport[idx], p.dport[idx], p.ip_proto[idx] == _TCP, p.dns_flags[idx])
            cols = (
                p.ts_ns, p.frame, p.dns_id, p.dns_flags, p.dns_qtype, p.dns_qname_offset,
                p.src_hi, p.src_lo, p.dst_hi, p.dst_lo, p.sport, p.dport, p.buf,
            )
            # tshark matches a message only once it has dissected all of it: never one cut by the snapshot
            # length (a query cut so has no dns.response_in, a response cut so answers nothing)
            # tshark shows no dns.response_in on a query it could not dissect whole, answered or not
            response = (p.dns_flags[idx] & 0x8000) != 0
            whole = (p.caplen[idx] >= p.wirelen[idx]) & (response | self._well_formed(p, idx))
            self._t_counts[k.TC_UNANSWERED] += int(((p.dns_flags[idx[~whole]] & 0x8000) == 0).sum())
            self._match(idx, cols, f.conv, idx[whole])
        if msgs is not None and len(msgs):
            r = msgs.row
            self._count_protocols(p.sport[r], p.dport[r], np.ones(r.size, np.bool_), msgs.dns_flags)
            cols = (
                p.ts_ns[r], p.frame[r], msgs.dns_id, msgs.dns_flags, msgs.dns_qtype, msgs.qname_offset,
                p.src_hi[r], p.src_lo[r], p.dst_hi[r], p.dst_lo[r], p.sport[r], p.dport[r], msgs.buf,
            )
            every = np.arange(r.size, dtype=np.int64)
            self._match(every, cols, f.conv[r], every)

    @staticmethod
    def _well_formed(p: PacketTable, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Per DNS row: whether its message holds all it counts (`decode.dns.messages_fit`) and its UDP
        length is not beyond the datagram (UDP rows; TCP ones are taken as they are)."""
        out = np.ones(idx.size, np.bool_)
        udp = np.flatnonzero(p.ip_proto[idx] != _TCP)
        rows = idx[udp]
        start = p.data_offset[rows] + p.l4_offset[rows].astype(np.int64) + UDP_HEADER
        end = np.minimum(start + p.payload_len[rows].astype(np.int64), p.data_offset[rows] + p.caplen[rows])
        fits = np.empty(rows.size, np.bool_)
        messages_fit(p.buf, start, end, fits)
        length = (p.buf[start - 4].astype(np.int64) << 8) | p.buf[start - 3]  # the UDP length field
        out[udp] = fits & (length - UDP_HEADER <= p.payload_len[rows])
        return out

    def _match(
        self, idx: npt.NDArray[np.int64], cols: tuple[np.ndarray, ...], conv: npt.NDArray[np.int64],
        whole: npt.NDArray[np.int64],
    ) -> None:
        """Match the messages `idx` of the columns `cols` (see `dns_kernel.match_chunk`); `whole`: those of
        them that tshark's matching sees (`dns_kernel.match_tshark`)."""
        m = idx.size
        self._ensure(self.open_transactions + m)
        self._ensure_tshark(int(self._t_counts[k.TC_OPEN]) + m)
        k.match_tshark(whole, cols, conv, self._t_slots, self._t_keys, self._t_vals, self._t_counts,
                       self.tshark_window_ns)
        kind = np.empty(m, np.int8)
        row = np.empty(m, np.int64)
        q_ts, q_frame, q_qtype, q_server = (np.zeros(m, np.int64) for _ in range(4))
        q_addr = np.zeros((m, k.N_ADDR), np.uint64)
        k.match_chunk(
            idx, cols, conv, self._slots, self._keys, self._vals, self._addrs, self._counts,
            self._srv_slots, self._srv_addr, self._srv_counts, self._rcodes,
            kind, row, q_ts, q_frame, q_qtype, q_addr, q_server,
        )
        ts_ns, dns_flags, qname_offset, buf = cols[0], cols[3], cols[5], cols[12]
        counted = np.bincount(kind, minlength=5)
        self.unsolicited += int(counted[k.UNSOLICITED])
        self.retransmitted_responses += int(counted[k.RETRANSMITTED_RESPONSE])
        self.retransmitted_queries += int(counted[k.RETRANSMITTED_QUERY])
        self.responses += int(counted[k.UNSOLICITED] + counted[k.RETRANSMITTED_RESPONSE] + counted[k.ANSWER])
        self.queries += int(counted[k.RETRANSMITTED_QUERY] + counted[k.NEW_QUERY])
        while len(self._srv_times) < int(self._counts[k.C_SERVERS]):
            self._srv_times.append(Sampler(_SERVER_SAMPLES, per_unit=1_000_000))
        new = kind == k.NEW_QUERY
        if new.any():
            self._learn_names(q_addr[new, k.A_NAME], qname_offset[idx[new]], buf)
            self._by_name.register(q_addr[new, k.A_NAME], self._names)
        asked = row[(kind == k.NEW_QUERY) | (kind == k.RETRANSMITTED_QUERY)]
        self._by_name.add(byname.QUERIES, self._addrs[asked, k.A_NAME])
        ans = np.flatnonzero(kind == k.ANSWER)
        if ans.size:
            i = idx[ans]
            rcode = (dns_flags[i] & 0xF).astype(np.int64)
            ns = ts_ns[i] - q_ts[ans]
            ms = ns / 1e6
            self._add_times(ts_ns[i], ns, ms, q_server[ans])
            self._by_name.add_answers(q_addr[ans, k.A_NAME], rcode, ms, self.slow_ms)
            q = (q_ts[ans], q_frame[ans], q_qtype[ans], q_addr[ans], rcode, ms)
            self._add_errors(q)
            self._add_slowest(q)
        if self.open_transactions > self.max_open:
            self._purge()
        if int(self._t_counts[k.TC_OPEN]) > self.max_open:
            self._purge_tshark()

    def _count_protocols(self, sport: npt.NDArray[np.uint16], dport: npt.NDArray[np.uint16],
                         tcp: npt.NDArray[np.bool_], flags: npt.NDArray[np.uint16]) -> None:
        other = ~tcp & (sport != DNS_PORT) & (dport != DNS_PORT)  # found by the UDP heuristic
        proto = np.where((sport == MDNS_PORT) | (dport == MDNS_PORT), 2, np.where(other, 4, 0))
        proto = np.where((sport == LLMNR_PORT) | (dport == LLMNR_PORT), 3, proto)
        proto = np.where(tcp, 1, proto)  # tshark dissects TCP port 5353 as DNS, not mDNS
        qr = (flags >> 15).astype(np.int64)
        self._by_protocol += np.bincount(proto * 2 + qr, minlength=2 * len(PROTOCOLS)).reshape(-1, 2)

    def _ensure(self, rows: int) -> None:
        """Room for `rows` transactions, with the slot table at most half full."""
        if rows > self._keys.shape[0]:
            size = max(rows, 1024)
            self._keys = grow_in_place(self._keys, size)
            self._vals = grow_in_place(self._vals, size)
            self._addrs = grow_in_place(self._addrs, size)
        if 2 * rows > self._slots.shape[0]:
            self._slots = np.full(1 << (2 * rows).bit_length(), k.EMPTY, np.int64)
            k.rebuild(self._slots, self._keys, self.open_transactions)

    def _ensure_tshark(self, rows: int) -> None:
        """Room for `rows` of tshark's transactions, with their slot table at most half full."""
        if rows > self._t_keys.shape[0]:
            size = max(rows, 1024)
            self._t_keys = grow_in_place(self._t_keys, size)
            self._t_vals = grow_in_place(self._t_vals, size)
        if 2 * rows > self._t_slots.shape[0]:
            self._t_slots = np.full(1 << (2 * rows).bit_length(), k.EMPTY, np.int64)
            k.rebuild(self._t_slots, self._t_keys, int(self._t_counts[k.TC_OPEN]))

    def _purge_tshark(self) -> None:
        """Forget tshark's transactions opened more than `stale_s` before the latest message (counting the
        unanswered ones): tshark keeps them all, so a response that late is ignored here."""
        n = int(self._t_counts[k.TC_OPEN])
        vals = self._t_vals[:n]
        stale = vals[:, k.T_TS] < int(self._counts[k.C_LATEST]) - self.stale_ns
        self._t_counts[k.TC_UNANSWERED] += int((stale & (vals[:, k.T_ANSWERED] == 0)).sum())
        keep = np.flatnonzero(~stale)
        m = keep.size
        self._t_keys[:m] = self._t_keys[keep]
        self._t_vals[:m] = self._t_vals[keep]
        self._t_counts[k.TC_OPEN] = m
        self._t_slots.fill(k.EMPTY)
        k.rebuild(self._t_slots, self._t_keys, m)

    def _learn_names(self, hashes: npt.NDArray[np.uint64], offsets: npt.NDArray[np.uint32],
                     buf: npt.NDArray[np.uint8]) -> None:
        """Decode one representative of every name hash not seen before."""
        uniq, first = np.unique(hashes, return_index=True)
        names = self._names
        for h, at in zip(uniq.tolist(), first.tolist(), strict=True):
            if h not in names:
                names[h] = qname_at(buf, int(offsets[at]))

    def _add_times(self, ts: npt.NDArray[np.int64], ns: npt.NDArray[np.int64], ms: npt.NDArray[np.float64],
                   server: npt.NDArray[np.int64]) -> None:
        self._times.add(ns)
        self._pt.add((ts - (self._origin or 0)) / NS)
        self._pv.add(ms)
        # A response stamped before its query (clock step, damaged capture) keeps its negative time, as
        # tshark's dns.time does, but has no histogram bucket.
        b = np.minimum(np.searchsorted(HIST_EDGES_MS, ms[ms >= 0], side="right") - 1, self._hist.size - 1)
        self._hist += np.bincount(b, minlength=self._hist.size)
        for sid in np.unique(server[server >= 0]).tolist():
            self._srv_times[sid].add(ns[server == sid])
        slow = ms > self.slow_ms
        self.slow_answers += int(slow.sum())
        sid = server[slow & (server >= 0)]
        if sid.size:
            self._srv_extra[:, 1] += np.bincount(sid, minlength=self.max_servers)

    def _add_errors(self, q: _Answers) -> None:
        room = self.max_list - len(self._errors)
        if room > 0:
            for j in np.flatnonzero(q[4] != 0)[:room].tolist():
                self._errors.append(self._info(q, j))

    def _add_slowest(self, q: _Answers) -> None:
        """Keep the `max_list` slowest answers (ties: earliest query frame first)."""
        if self.max_list <= 0:
            return
        ms, frame = q[5], q[1]
        top = np.lexsort((frame, -ms))[: self.max_list].tolist()
        kept = self._slowest
        if len(kept) == self.max_list:
            floor = (-kept[-1][0], kept[-1][1])
            top = [j for j in top if (-ms[j], frame[j]) < floor]
        if top:
            kept += [(float(ms[j]), int(frame[j]), self._info(q, j)) for j in top]
            kept.sort(key=lambda x: (-x[0], x[1]))
            del kept[self.max_list :]

    def _info(self, q: _Answers, j: int) -> DnsQueryInfo:
        ts, frame, qtype, addr, rcode, ms = q
        a = addr[j]
        return DnsQueryInfo(
            frame=int(frame[j]),
            ts=int(ts[j]) / NS,
            client=format_addr(a[k.A_CHI], a[k.A_CLO]),
            server=format_addr(a[k.A_SHI], a[k.A_SLO]),
            name=self._names[int(a[k.A_NAME])],
            qtype=qtype_name(int(qtype[j])),
            rcode=RCODES.get(int(rcode[j]), f"RCODE{int(rcode[j])}") if rcode is not None else None,
            response_time_ms=float(ms[j]) if ms is not None else None,
        )

    def _close_unanswered(self, rows: npt.NDArray[np.int64]) -> None:
        """Count the unanswered transactions `rows` and keep the `max_list` earliest in the list."""
        if rows.size == 0:
            return
        self.unanswered += int(rows.size)
        self._by_name.add(byname.UNANSWERED, self._addrs[rows, k.A_NAME])
        sid = self._vals[rows, k.V_SERVER]
        sid = sid[sid >= 0]
        if sid.size:
            self._srv_counts[:, k.SRV_UNANSWERED] += np.bincount(sid, minlength=self.max_servers)
        if self.max_list <= 0:
            return
        # keep the earliest queries (by frame) whenever they are closed, so the list does not depend
        # on when purges run
        r = rows[np.argsort(self._vals[rows, k.V_FRAME], kind="stable")[: self.max_list]]
        kept = self._unanswered_list
        if len(kept) == self.max_list:
            r = r[self._vals[r, k.V_FRAME] < kept[-1].frame]
        if r.size:
            v = self._vals[r]
            q = (v[:, k.V_TS], v[:, k.V_FRAME], v[:, k.V_QTYPE], self._addrs[r], None, None)
            kept += [self._info(q, j) for j in range(r.size)]
            kept.sort(key=lambda i: i.frame)
            del kept[self.max_list :]

    def _purge(self) -> None:
        n = self.open_transactions
        vals = self._vals[:n]
        stale = vals[:, k.V_TS] < int(self._counts[k.C_LATEST]) - self.stale_ns
        closing = np.flatnonzero(stale & (vals[:, k.V_ANSWERED] == 0))
        self._close_unanswered(closing[np.argsort(vals[closing, k.V_ORDER], kind="stable")])
        keep = np.flatnonzero(~stale)
        m = keep.size
        for a in (self._keys, self._vals, self._addrs):
            a[:m] = a[keep]
        self._counts[k.C_OPEN] = m
        self._slots.fill(k.EMPTY)
        k.rebuild(self._slots, self._keys, m)
        if len(self._names) > 4 * max(self.max_open, 1024):  # forget names no open transaction uses
            live = set(self._addrs[:m, k.A_NAME].tolist())
            self._names = {h: v for h, v in self._names.items() if h in live or h == int(k.NAME_NONE)}

    def series(self) -> list[SeriesPoint]:
        """Response times over time (seconds since the first packet, ms), at most `max_points`."""
        t, v = self._pt.values().tolist(), self._pv.values().tolist()
        return [SeriesPoint(t=a, v=b) for a, b in zip(t, v, strict=True)]

    def finalize(self, end_ns: int | None = None) -> DnsSummary:
        """The DNS summary. Transactions still open at the end count as unanswered, but those whose query
        was sent less than `timeout_s` before `end_ns` (the capture's last packet) count as
        `pending_at_end` (none without `end_ns`)."""
        n = self.open_transactions
        vals = self._vals[:n]
        open_rows = np.flatnonzero(vals[:, k.V_ANSWERED] == 0)
        if end_ns is None:
            young = np.zeros(open_rows.size, np.bool_)
        else:
            young = vals[open_rows, k.V_TS] > max(end_ns, int(self._counts[k.C_LATEST])) - self.timeout_ns
        pending = open_rows[young]
        self.pending += int(pending.size)
        self._by_name.add(byname.PENDING, self._addrs[pending, k.A_NAME])
        sid = vals[pending, k.V_SERVER]
        sid = sid[sid >= 0]
        if sid.size:
            self._srv_extra[:, 0] += np.bincount(sid, minlength=self.max_servers)
        open_rows = open_rows[~young]
        self._close_unanswered(open_rows[np.argsort(vals[open_rows, k.V_FRAME], kind="stable")])
        self._counts[k.C_OPEN] = 0
        self._slots.fill(k.EMPTY)
        t_vals = self._t_vals[: int(self._t_counts[k.TC_OPEN])]
        unanswered_frames = int(self._t_counts[k.TC_UNANSWERED])
        unanswered_frames += int((t_vals[:, k.T_ANSWERED] == 0).sum())
        servers = [
            DnsServer(
                server=format_addr(self._srv_addr[i, 0], self._srv_addr[i, 1]),
                queries=int(self._srv_counts[i, k.SRV_QUERIES]),
                unanswered=int(self._srv_counts[i, k.SRV_UNANSWERED]),
                errors=int(self._srv_counts[i, k.SRV_ERRORS]),
                pending_at_end=int(self._srv_extra[i, 0]),
                slow_answers=int(self._srv_extra[i, 1]),
                response_time_ms=self._srv_times[i].stats(),
            )
            for i in range(int(self._counts[k.C_SERVERS]))
        ]
        servers.sort(key=lambda s: (-(s.response_time_ms.median or 0.0), -s.unanswered, s.server))
        # the open-ended last bucket ends at the slowest answer (JSON has no infinity)
        edges = [*HIST_EDGES_MS[:-1], max(HIST_EDGES_MS[-2], self._times.max)]
        hist = [(edges[i], edges[i + 1], int(c)) for i, c in enumerate(self._hist) if c]
        rcodes = {RCODES.get(i, f"RCODE{i}"): int(c) for i, c in enumerate(self._rcodes.tolist()) if c}
        return DnsSummary(
            queries=self.queries,
            responses=self.responses,
            unanswered=self.unanswered,
            unanswered_query_frames=unanswered_frames,
            pending_at_end=self.pending,
            slow_answers=self.slow_answers,
            retransmitted_queries=self.retransmitted_queries,
            unsolicited_responses=self.unsolicited,
            response_time_ms=self._times.stats() if self._times.count else Stats(),
            rcodes=dict(sorted(rcodes.items())),
            by_protocol={
                name: DnsMessageCounts(queries=int(q), responses=int(r))
                for name, (q, r) in zip(PROTOCOLS, self._by_protocol.tolist(), strict=True)
                if q or r
            },
            histogram_ms=hist,
            servers=servers[:20],
            unanswered_queries=sorted(self._unanswered_list, key=lambda q: q.frame),
            error_responses=self._errors,
            slowest_queries=[x[2] for x in self._slowest],
            domains=self._by_name.domains(self.max_domains),
        )

    def limits(self) -> dict[str, int]:
        """Caps applied to the DNS lists and state."""
        return {
            "dns_lists": self.max_list,
            "dns_servers": self.max_servers,
            "dns_open_transactions": self.max_open,
            "dns_timeline_points": self.max_points,
            "dns_domains": self.max_domains,
            "dns_names": self._by_name.max_names,
        }
