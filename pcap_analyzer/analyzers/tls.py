"""TLS handshakes on any TCP port, found by content: timing, version, SNI, ALPN and cleartext alerts.

A NumPy mask over the chunk picks the TCP segments whose payload starts like a ClientHello or ServerHello
record (content type 22, version 3.x, handshake type 1 or 2): their streams are followed from there, and
only the segments of streams being followed reach Python (`tls_conn.TlsConnection`), until each handshake
is done, so the bytes of bulk transfers are never read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcap_analyzer.analyzers import tls_wire as w
from pcap_analyzer.analyzers.common import NS, format_addr, percentile_stats
from pcap_analyzer.analyzers.tls_conn import Counts, Side, TlsConnection
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.packets import TCP_FIN, TCP_RST, TCP_SYN, PacketTable
from pcap_analyzer.report.model import Stats
from pcap_analyzer.report.model_tls import TlsHandshake, TlsServer, TlsSummary

MAX_OPEN = 100_000  # connections followed at once; past it the oldest is closed as it stands
_NO_SIDES = (Side(), Side())  # what a closed connection keeps of its buffers


@dataclass(frozen=True, slots=True)
class TlsExchange:
    """One TLS handshake as a request/response exchange, for the latency breakdown (times in ns)."""

    kind: str  # "tls"
    server: str  # SNI, else address:port
    stream: int  # tcp.stream
    start_ns: int  # ClientHello
    first_response_ns: int | None  # ServerHello
    last_response_ns: int | None  # handshake done
    request_frame: int  # the ClientHello's frame


def _endpoint(hi: int, lo: int, port: int) -> str:
    addr = format_addr(hi, lo)
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _ms(a: int | None, b: int | None) -> float | None:
    return None if a is None or b is None else (b - a) / 1e6


class TlsAnalyzer:
    """Follows every TLS handshake of the capture (see the module docstring).

    Args:
        slow_ms: ClientHello -> ServerHello slower than this counts as slow (per server).
        max_list: failed and slowest handshakes listed.
        max_servers: servers listed (most handshakes first).
    """

    def __init__(self, *, slow_ms: float = 300.0, max_list: int = 50, max_servers: int = 200) -> None:
        self.slow_ms, self.max_list, self.max_servers = slow_ms, max_list, max_servers
        self.counts = Counts()
        self._open: dict[int, TlsConnection] = {}
        self._closed: list[TlsConnection] = []
        self._done: set[int] = set()  # streams followed to their end: a late resent hello starts nothing

    def update(self, batch: PacketBatch) -> None:
        """Follow the chunk's segments of TLS streams (handshakes in progress or starting here)."""
        p, f = batch.packets, batch.flows
        stream = f.tcp_stream
        sel = np.flatnonzero(
            (stream >= 0) & ((p.payload_len > 0) | ((p.tcp_flags & (TCP_FIN | TCP_RST)) > 0))
        )
        if sel.size == 0:
            return
        start = p.data_offset[sel] + p.l4_offset[sel] + p.tcp_hdr_len[sel]
        stop = np.minimum(start + p.payload_len[sel], p.data_offset[sel] + p.caplen[sel])
        b = p.buf
        room = stop - start >= 6
        head = np.where(room, start, 0)
        first, third = b[head], b[head + 2]
        # a TLS handshake record (type 22, minor version <= 4), or an SSL 2.0-format ClientHello (RFC 5246
        # appendix E.2: 2-byte length with the top bit set, then message type 1)
        tls = (first == w.HANDSHAKE) & (third <= 4)
        v2 = (first >= 0x80) & (third == w.SSLV2_CLIENT_HELLO)
        k = np.flatnonzero(room & (tls | v2))
        hello = np.zeros(sel.size, np.bool_)
        if k.size:  # the few that may start a hello: the next bytes decide
            h = head[k]
            major, fourth, fifth, sixth = b[h + 1], b[h + 3], b[h + 4], b[h + 5]
            hello[k] = (tls[k] & (major == 3) & ((sixth == w.CLIENT_HELLO) | (sixth == w.SERVER_HELLO))) | (
                v2[k] & (fourth == 3) & (fifth <= 4)
            )
        s = stream[sel]
        follow = np.unique(s[hello])
        if self._open:
            follow = np.union1d(follow, np.fromiter(self._open, np.int64, len(self._open)))
        if follow.size == 0:
            return
        j = np.flatnonzero(np.isin(s, follow))
        i = sel[j]
        cols = (
            s[j], f.direction[i], start[j], stop[j], hello[j], p.payload_len[i], p.tcp_flags[i], p.seq[i],
            p.frame[i], p.ts_ns[i], i,
        )  # fmt: skip
        buf = p.buf
        for sid, d, a, z, new, size, flags, seq, frame, ts, row in zip(
            *(c.tolist() for c in cols), strict=True
        ):
            conn = self._open.get(sid)
            if conn is None:
                if not new or sid in self._done:
                    continue
                conn = self._start(p, row, sid, d, a)
            if size:
                if z - a < size:  # cut by the snap length: the bytes we need are not there
                    conn.broken = True
                else:
                    seq = (seq + bool(flags & TCP_SYN)) & 0xFFFF_FFFF
                    conn.feed(d, seq, buf[a:z].tobytes(), frame, ts, self.counts)
            if flags & TCP_RST:
                conn.broken = True
            if flags & TCP_FIN:
                conn.sides[d].fin = True
            if conn.finished:
                self._close(sid)

    def _start(self, p: PacketTable, i: int, sid: int, d: int, start: int) -> TlsConnection:
        # the ClientHello's sender is the client (a ServerHello's receiver, when the capture starts later)
        server_hello = p.buf[start] == w.HANDSHAKE and p.buf[start + 5] == w.SERVER_HELLO
        client_dir = 1 - d if server_hello else d
        src = (int(p.src_hi[i]), int(p.src_lo[i]), int(p.sport[i]))
        dst = (int(p.dst_hi[i]), int(p.dst_lo[i]), int(p.dport[i]))
        conn = TlsConnection(sid, client_dir, (*src, *dst) if client_dir == d else (*dst, *src))
        self._open[sid] = conn
        if len(self._open) > MAX_OPEN:
            self._close(next(iter(self._open)))
        return conn

    def _close(self, sid: int) -> None:
        conn = self._open.pop(sid)
        self._done.add(sid)
        conn.sides = _NO_SIDES  # drop the buffers
        if conn.ch_ns is not None:
            self._closed.append(conn)

    def connections(self) -> list[TlsConnection]:
        """Every connection with a ClientHello, in the order of its first ClientHello."""
        for sid in list(self._open):
            self._close(sid)
        return sorted(self._closed, key=lambda c: c.ch_frame)

    def exchanges(self) -> list[TlsExchange]:
        """Each handshake as an exchange: ClientHello -> ServerHello -> handshake done."""
        return [
            TlsExchange("tls", self._server(c), c.stream, c.ch_ns or 0, c.sh_ns, c.done_ns, c.ch_frame)
            for c in self.connections()
        ]

    @staticmethod
    def _server(c: TlsConnection) -> str:
        return c.server_name or _endpoint(*c.addrs[3:])

    def _row(self, c: TlsConnection) -> TlsHandshake:
        a = c.addrs
        outcome = "completed" if c.done_ns is not None else "failed" if c.alert else "incomplete"
        return TlsHandshake(
            stream=c.stream,
            client=format_addr(a[0], a[1]),
            client_port=a[2],
            server=format_addr(a[3], a[4]),
            server_port=a[5],
            server_name=c.server_name,
            version=None if c.version is None else w.version_name(c.version),
            alpn_offered=c.alpn_offered,
            alpn_selected=c.alpn_selected,
            client_hello_frame=c.ch_frame,
            client_hello_ts=(c.ch_ns or 0) / NS,
            server_hello_frame=c.sh_frame,
            hello_ms=_ms(c.ch_ns, c.sh_ns),
            done_ms=_ms(c.ch_ns, c.done_ns),
            alert=c.alert,
            alert_frame=c.alert_frame,
            alert_from=None if c.alert is None else "client" if c.alert_from_client else "server",
            outcome=outcome,
        )

    def finalize(self) -> TlsSummary:
        rows = [self._row(c) for c in self.connections()]
        k = self.counts
        out = TlsSummary(
            handshakes=k.client_hellos,
            server_hellos=k.server_hellos,
            connections=len(rows),
            completed=sum(r.outcome == "completed" for r in rows),
            failed=sum(r.outcome == "failed" for r in rows),
            handshake_ms=_stats([r.hello_ms for r in rows]),
            handshake_done_ms=_stats([r.done_ms for r in rows]),
            versions=_count(r.version for r in rows if r.version),
            server_names=dict(k.server_names.most_common()),
            alpn_offered=dict(k.alpn_offered.most_common()),
            alpn_selected=dict(k.alpn_selected.most_common()),
            alerts=dict(k.alerts.most_common()),
            failures=[r for r in rows if r.outcome == "failed"][: self.max_list],
        )
        timed = sorted(
            (r for r in rows if r.hello_ms is not None), key=lambda r: (-(r.hello_ms or 0), r.stream)
        )
        out.slowest = timed[: self.max_list]
        out.servers = self._servers(rows)[: self.max_servers]
        return out

    def _servers(self, rows: list[TlsHandshake]) -> list[TlsServer]:
        groups: dict[str, list[TlsHandshake]] = {}
        for r in rows:
            groups.setdefault(r.server_key, []).append(r)
        out = [
            TlsServer(
                server=key,
                handshakes=len(g),
                completed=sum(r.outcome == "completed" for r in g),
                failed=sum(r.outcome == "failed" for r in g),
                incomplete=sum(r.outcome == "incomplete" for r in g),
                slow=sum((r.hello_ms or 0) > self.slow_ms for r in g),
                hello_ms=_stats([r.hello_ms for r in g]),
                done_ms=_stats([r.done_ms for r in g]),
                versions=_count(r.version for r in g if r.version),
                failures=_count(r.alert for r in g if r.outcome == "failed" and r.alert),
            )
            for key, g in groups.items()
        ]
        out.sort(key=lambda s: (-s.handshakes, s.server))
        return out

    def limits(self) -> dict[str, int]:
        return {"tls_examples": self.max_list, "tls_servers": self.max_servers}


def _stats(values: list[float | None]) -> Stats:
    return percentile_stats(np.array([v for v in values if v is not None], np.float64))


def _count(items: object) -> dict[str, int]:
    counts: dict[str, int] = {}
    for x in items:  # type: ignore[attr-defined]
        counts[x] = counts.get(x, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
