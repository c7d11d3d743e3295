"""TLS handshakes on any TCP port, found by content: timing, version, SNI, ALPN and cleartext alerts.

A NumPy mask over the chunk picks the TCP segments whose payload starts like a ClientHello or ServerHello
record (content type 22, version 3.x, handshake type 1 or 2): their streams are followed from there, and
only the segments of streams being followed reach Python (`tls_conn.TlsConnection`), until each handshake
is done, so the bytes of bulk transfers are never read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers import tls_wire as w
from pcap_analyzer.analyzers.common import NS, format_addr, percentile_stats
from pcap_analyzer.analyzers.latency import AppExchange
from pcap_analyzer.analyzers.tls_conn import Counts, Side, TlsConnection
from pcap_analyzer.analyzers.tls_rows import (
    COMPLETED,
    FAILED,
    INCOMPLETE,
    NONE,
    OUTCOMES,
    HandshakeRows,
    outcome,
)
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.packets import TCP_FIN, TCP_RST, TCP_SYN, PacketTable
from pcap_analyzer.report.model import Stats
from pcap_analyzer.report.model_tls import TlsHandshake, TlsServer, TlsSummary

MAX_OPEN = 100_000  # connections followed at once; past it the oldest is closed as it stands
_NO_SIDES = (Side(), Side())  # what a closed connection keeps of its buffers


NEVER = np.iinfo(np.int32).max  # tls_since of a stream with no handshake


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
    response_frame: int | None  # the ServerHello's frame


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
        self._rows = HandshakeRows(max_list)
        self._done = bytearray()  # 1 per stream followed to its end: a late resent hello starts nothing
        self.chunks = 0
        # per tcp.stream, the 1-based chunk where its handshake was found (NEVER: none), for AppTiming
        self.tls_since = np.full(0, NEVER, np.int32)

    def marks(self) -> npt.NDArray[np.int32] | None:
        """`tls_since`, or None while no handshake was found (for `AppTiming`)."""
        return self.tls_since if (self.tls_since != NEVER).any() else None

    def app_exchanges(self) -> list[AppExchange]:
        """The handshakes a ServerHello answered, for the latency breakdown: ClientHello -> ServerHello is
        network and server time, ServerHello -> handshake done (the server's certificate flight and the
        client's answer) the transfer."""
        return [
            AppExchange(e.kind, e.server, e.stream, e.start_ns, e.first_response_ns,
                        e.last_response_ns if e.last_response_ns is not None else e.first_response_ns,
                        e.request_frame)
            for e in self.exchanges()
            if e.first_response_ns is not None
        ]  # fmt: skip

    def update(self, batch: PacketBatch) -> None:
        """Follow the chunk's segments of TLS streams (handshakes in progress or starting here)."""
        self.chunks += 1
        p, f = batch.packets, batch.flows
        stream = f.tcp_stream
        b = p.buf
        # First pass, over every segment with payload: its first byte only. A TLS handshake record starts
        # with 22, an SSL 2.0-format ClientHello (RFC 5246 appendix E.2) with a length byte >= 0x80.
        pay = np.flatnonzero((stream >= 0) & (p.payload_len > 0))
        at = p.data_offset[pay] + p.l4_offset[pay] + p.tcp_hdr_len[pay]
        first = b[np.minimum(at, b.size - 1)]  # a cut packet's byte may be the next one's: checked below
        cand = pay[(first == w.HANDSHAKE) | (first >= 0x80)]
        hello_rows = cand[:0]
        if cand.size:  # the few that may start a hello: the next bytes decide
            start = p.data_offset[cand] + p.l4_offset[cand] + p.tcp_hdr_len[cand]
            stop = np.minimum(start + p.payload_len[cand], p.data_offset[cand] + p.caplen[cand])
            cand, h = cand[stop - start >= 6], start[stop - start >= 6]
            first, major, third = b[h], b[h + 1], b[h + 2]
            fourth, fifth, sixth = b[h + 3], b[h + 4], b[h + 5]
            tls = (first == w.HANDSHAKE) & (third <= 4) & (major == 3)
            tls &= (sixth == w.CLIENT_HELLO) | (sixth == w.SERVER_HELLO)
            v2 = (first >= 0x80) & (third == w.SSLV2_CLIENT_HELLO) & (fourth == 3) & (fifth <= 4)
            hello_rows = cand[tls | v2]
        follow = np.unique(stream[hello_rows])
        if self._open:
            follow = np.union1d(follow, np.fromiter(self._open, np.int64, len(self._open)))
        if follow.size == 0:
            return
        # Second pass, on the streams followed: their segments with payload, FIN or RST.
        sel = np.flatnonzero(
            (stream >= 0) & ((p.payload_len > 0) | ((p.tcp_flags & (TCP_FIN | TCP_RST)) > 0))
        )
        i = sel[np.isin(stream[sel], follow)]
        start = p.data_offset[i] + p.l4_offset[i] + p.tcp_hdr_len[i]
        stop = np.minimum(start + p.payload_len[i], p.data_offset[i] + p.caplen[i])
        hello = np.isin(i, hello_rows)
        cols = (
            stream[i], f.direction[i], start, stop, hello, p.payload_len[i], p.tcp_flags[i], p.seq[i],
            p.frame[i], p.ts_ns[i], i,
        )  # fmt: skip
        buf = p.buf
        for sid, d, a, z, new, size, flags, seq, frame, ts, row in zip(
            *(c.tolist() for c in cols), strict=True
        ):
            conn = self._open.get(sid)
            if conn is None:
                if not new or (sid < len(self._done) and self._done[sid]):
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
        if sid >= self.tls_since.size:  # a new array: AppTiming may hold the old one (another thread)
            grown = np.full(max(sid + 1, 2 * self.tls_since.size, 1024), NEVER, np.int32)
            grown[: self.tls_since.size] = self.tls_since
            self.tls_since = grown
        if self.tls_since[sid] == NEVER:
            self.tls_since[sid] = self.chunks
        if len(self._open) > MAX_OPEN:
            self._close(next(iter(self._open)))
        return conn

    def _close(self, sid: int) -> None:
        conn = self._open.pop(sid)
        if sid >= len(self._done):
            self._done.extend(bytes(max(sid + 1 - len(self._done), len(self._done))))
        self._done[sid] = 1
        conn.sides = _NO_SIDES  # drop the buffers
        if conn.ch_ns is not None:
            self._rows.add(conn)

    def _close_all(self) -> dict[str, np.ndarray]:
        for sid in list(self._open):
            self._close(sid)
        return self._rows.arrays()

    def exchanges(self) -> list[TlsExchange]:
        """Each handshake (a stream with a ClientHello) as an exchange: ClientHello -> ServerHello ->
        handshake done, in ClientHello order."""
        c = self._close_all()
        labels = self._rows.labels()
        opt = (
            [None if v == NONE else v for v in c["sh_ns"].tolist()],
            [None if v == NONE else v for v in c["done_ns"].tolist()],
        )
        return [
            TlsExchange("tls", labels[srv], sid, ch, sh, done, frame, None if shf == NONE else shf)
            for sid, ch, sh, done, frame, shf, srv in zip(
                c["stream"].tolist(), c["ch_ns"].tolist(), *opt, c["ch_frame"].tolist(),
                c["sh_frame"].tolist(), c["server"].tolist(), strict=True,
            )
        ]  # fmt: skip

    def _row(self, c: TlsConnection) -> TlsHandshake:
        a = c.addrs
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
            outcome=OUTCOMES[outcome(c)],
        )

    def finalize(self) -> TlsSummary:
        c = self._close_all()
        k = self.counts
        hello, done = _durations_ms(c, "sh_ns"), _durations_ms(c, "done_ns")
        return TlsSummary(
            handshakes=k.client_hellos,
            server_hellos=k.server_hellos,
            connections=int(c["stream"].size),
            completed=int(np.count_nonzero(c["outcome"] == COMPLETED)),
            failed=int(np.count_nonzero(c["outcome"] == FAILED)),
            handshake_ms=_stats(hello),
            handshake_done_ms=_stats(done),
            versions=_versions(c["version"]),
            server_names=dict(k.server_names.most_common()),
            alpn_offered=dict(k.alpn_offered.most_common()),
            alpn_selected=dict(k.alpn_selected.most_common()),
            alerts=dict(k.alerts.most_common()),
            failures=[self._row(x) for x in self._rows.failures()],
            slowest=[self._row(x) for x in self._rows.slowest_first()],
            servers=self._servers(c, hello, done),
        )

    def _servers(self, c: dict[str, np.ndarray], hello: np.ndarray, done: np.ndarray) -> list[TlsServer]:
        """The `max_servers` servers with the most handshakes (ties: by name), each over all its rows."""
        if c["server"].size == 0:
            return []
        labels = self._rows.labels()
        order = np.argsort(c["server"], kind="stable")
        codes, first, counts = np.unique(c["server"][order], return_index=True, return_counts=True)
        ranked = sorted(range(codes.size), key=lambda g: (-int(counts[g]), labels[int(codes[g])]))
        out = []
        for g in ranked[: self.max_servers]:
            rows = order[first[g] : first[g] + counts[g]]
            result = c["outcome"][rows]
            failed = rows[result == FAILED]
            h = hello[rows]
            out.append(
                TlsServer(
                    server=labels[int(codes[g])],
                    handshakes=int(rows.size),
                    completed=int(np.count_nonzero(result == COMPLETED)),
                    failed=int(failed.size),
                    incomplete=int(np.count_nonzero(result == INCOMPLETE)),
                    slow=int(np.count_nonzero(h > self.slow_ms)),
                    hello_ms=_stats(h),
                    done_ms=_stats(done[rows]),
                    versions=_versions(c["version"][rows]),
                    failures=_named_counts(c["alert"][failed], labels),
                )
            )
        return out

    def limits(self) -> dict[str, int]:
        return {"tls_examples": self.max_list, "tls_servers": self.max_servers}


def _durations_ms(c: dict[str, np.ndarray], end: str) -> np.ndarray:
    """ClientHello -> `end` in ms per row, NaN where `end` never came."""
    return np.where(c[end] == NONE, np.nan, (c[end] - c["ch_ns"]) / 1e6)


def _stats(ms: np.ndarray) -> Stats:
    return percentile_stats(ms[~np.isnan(ms)])


def _named_counts(codes: np.ndarray, labels: list[str]) -> dict[str, int]:
    values, counts = np.unique(codes[codes != NONE], return_counts=True)
    pairs = sorted(((labels[v], n) for v, n in zip(values.tolist(), counts.tolist(), strict=True)),
                   key=lambda x: (-x[1], x[0]))  # fmt: skip
    return dict(pairs)


def _versions(codes: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(codes[codes != NONE], return_counts=True)
    pairs = [(w.version_name(v), n) for v, n in zip(values.tolist(), counts.tolist(), strict=True)]
    return dict(sorted(pairs, key=lambda x: (-x[1], x[0])))
