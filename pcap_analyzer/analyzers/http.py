"""HTTP/1.x requests and responses over TCP on any port, found by content.

The common path stays columnar: one NumPy pass per chunk picks the TCP segments whose payload starts like
a request line (`GET `, `POST`, ...) or a status line (`HTTP`), plus every payload segment of connections
already seen carrying HTTP. Only those segments reach the Python framing code (`http_parse.py`). Runs in
the read-ahead thread (it reads packet bytes).

Times follow tshark with `http.desegment_body:FALSE`: a request is timed at the segment that completes its
head (tshark's `http.request_in` frame), a response at the segment that completes its head, so
`response_time_ms` equals tshark's `http.time` under that preference. The transfer time runs from the
segment holding the response's first byte to the one holding its last body byte.
"""

from __future__ import annotations

import heapq
from array import array
from typing import Any

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers.common import Sampler, format_addr, percentile_stats
from pcap_analyzer.analyzers.http_parse import BODY, Connection, Message, Side
from pcap_analyzer.analyzers.latency import AppExchange
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.packets import TCP_FIN, TCP_RST, PacketTable
from pcap_analyzer.report.model_http import HttpHostStats, HttpRequest, HttpSummary


def _word(text: bytes) -> int:
    return int.from_bytes(text[:4], "big")


# First four payload bytes of a request line (RFC 9110 methods, WebDAV) or a status line.
_STARTS = np.array(sorted({_word(m) for m in (
    b"GET ", b"POST", b"HEAD", b"PUT ", b"DELE", b"OPTI", b"PATC", b"CONN", b"TRAC", b"PROP", b"MKCO",
    b"COPY", b"MOVE", b"LOCK", b"UNLO", b"HTTP",
)}), np.uint32)
_FIRST = np.zeros(256, np.bool_)
_FIRST[[w >> 24 for w in _STARTS.tolist()]] = True
_MS = 1e6
NEVER = np.iinfo(np.int32).max


def _prefix(path: str) -> str:
    """First path segment: "/api" for "/api/users?x=1", "/" for "/" or "/index.html"."""
    p = path.split("?", 1)[0]
    if not p.startswith("/"):
        return p[:50]  # absolute-form or authority-form target
    seg = p[1:].split("/", 1)
    return "/" + seg[0] if len(seg) > 1 else "/"


class HttpAnalyzer:
    """Frames HTTP/1.x messages per connection and matches responses to requests in order.

    Args:
        max_slowest: requests listed in `slowest`.
        max_hosts: host/path-prefix groups listed (most requests first); more groups are counted together.
        max_exchanges: request/response pairs kept for the latency breakdown (further ones are not kept).
    """

    def __init__(self, *, max_slowest: int = 50, max_hosts: int = 100, max_exchanges: int = 200_000) -> None:
        self.max_slowest, self.max_hosts, self.max_exchanges = max_slowest, max_hosts, max_exchanges
        # tcp.stream -> the chunk (1-based count of `update` calls) in which it was first seen carrying HTTP,
        # NEVER if not. The TCP-side collector (app_timing.py) reads it from the other thread, for its chunk k
        # only the streams found by chunk k, so what it keeps does not depend on how far this thread ran
        # ahead. Replaced, never resized in place, when it grows.
        self.http_since = np.full(1024, NEVER, np.int32)
        self.chunks = 0
        self.first_found = NEVER  # chunk of the first connection found
        self._watch = np.zeros(1024, np.bool_)  # tcp.stream -> its segments go to the framing code
        self._conns: dict[int, Connection] = {}
        self._servers: dict[int, str] = {}  # stream -> server address:port (the side that answers)
        self.requests = self.responses = 0
        self._methods: dict[str, int] = {}
        self._status: dict[str, int] = {}
        self._times = Sampler(250_000)
        self._transfer = Sampler(250_000)
        self._slowest: list[tuple[float, int, int, HttpRequest]] = []  # min-heap of (ms, -frame, -n, row)
        self._closed = 0
        # key -> [requests, responses, errors, bytes, Sampler, times not yet in the Sampler]
        self._hosts: dict[tuple[str, str], list] = {}
        self._pending: tuple[list[float], list[float]] = ([], [])  # times not yet in the Samplers
        self._dirty: dict[int, list] = {}  # groups with pending times
        # exchanges for the breakdown: columns (stream, start, first, last, frame) and server names
        self._ex = tuple(array("q") for _ in range(5))
        self._ex_server: list[str] = []
        self.dropped_exchanges = 0

    def update(self, batch: PacketBatch) -> None:
        p, f = batch.packets, batch.flows
        self.chunks += 1
        if len(p) == 0:
            return
        stream = f.tcp_stream  # >= 0 only for decoded TCP packets
        idx = np.flatnonzero(p.payload_len)
        idx = idx[stream[idx] >= 0]
        if self._conns:  # FIN and RST end the connections followed
            ends = np.flatnonzero(p.tcp_flags & (TCP_FIN | TCP_RST))
            ends = ends[stream[ends] >= 0]
        else:
            ends = idx[:0]
        if idx.size == 0 and ends.size == 0:
            return
        s = stream[idx]
        top = int(max(s.max(initial=-1), stream[ends].max(initial=-1)))
        if top >= self._watch.size:
            size = max(top + 1, 2 * self._watch.size)
            self._watch = _grown(self._watch, size, False)
            self.http_since = _grown(self.http_since, size, NEVER)
        known = self._watch[s]
        new = idx[~known]  # segments of connections not followed yet: does the payload start like HTTP?
        b = p.buf
        start = p.data_offset[new] + p.l4_offset[new] + p.tcp_hdr_len[new]
        # one byte first (most payloads, TLS records or bodies, stop here); a cut packet's byte may be the
        # next packet's, so the captured length is checked on the few that pass
        first = _FIRST[b[np.minimum(start, b.size - 1)]]
        new, start = new[first], start[first]
        four = np.minimum(p.payload_len[new], p.caplen[new] - (start - p.data_offset[new])) >= 4
        new, start = new[four], start[four]
        word = (b[start].astype(np.uint32) << 24) | (b[start + 1].astype(np.uint32) << 16) \
            | (b[start + 2].astype(np.uint32) << 8) | b[start + 3].astype(np.uint32)
        found = new[np.isin(word, _STARTS)]
        parts = [idx[known], ends[self._watch[stream[ends]]]]
        if found.size:  # those connections' other segments in this chunk too (before and after)
            parts += [idx[np.isin(s, stream[found])], ends[np.isin(stream[ends], stream[found])]]
        pick = np.unique(np.concatenate(parts))  # sorted: capture order
        if pick.size:
            self._parse(batch, pick)
            self._flush()

    def marks(self) -> npt.NDArray[np.int32] | None:
        """`http_since`, or None while no connection carried HTTP (for `AppTiming`)."""
        return self.http_since if self.first_found != NEVER else None

    def _flush(self) -> None:
        """Times of the chunk into the Samplers, one call each (a call per response would cost more)."""
        for sampler, pending in zip((self._times, self._transfer), self._pending, strict=True):
            if pending:
                sampler.add(pending)
                pending.clear()
        for g in self._dirty.values():
            g[4].add(g[5])
            g[5].clear()
        self._dirty.clear()

    def _parse(self, batch: PacketBatch, pick: npt.NDArray[np.int64]) -> None:
        """Frame the picked segments, connection by connection (each in capture order)."""
        p, f = batch.packets, batch.flows
        buf = p.buf
        order = pick[np.argsort(f.tcp_stream[pick], kind="stable")]
        off = p.l4_offset[order].astype(np.int64) + p.tcp_hdr_len[order]
        have = np.maximum(np.minimum(p.payload_len[order].astype(np.int64), p.caplen[order] - off), 0)
        ends = (p.tcp_flags[order] & (TCP_FIN | TCP_RST)) != 0
        runs = _Runs(f.tcp_stream[order], f.direction[order], p.seq[order], p.payload_len[order], ends)
        # columns as lists, read only at the rows framed (a body's middle is skipped without a look)
        cs, cd, cseq, clen = (c.tolist() for c in (f.tcp_stream[order], f.direction[order], p.seq[order],
                                                   p.payload_len[order]))
        cstart, chave = (p.data_offset[order] + off).tolist(), have.tolist()
        cts, cframe = p.ts_ns[order].tolist(), p.frame[order].tolist()
        cidx, cend = order.tolist(), ends.tolist()
        j, total = 0, len(cs)
        while j < total:
            s, d, seq, length, end = cs[j], cd[j], cseq[j], clen[j], cend[j]
            j += 1
            conn = self._conns.get(s)
            if conn is None:
                if not length:
                    continue
                conn = self._conns[s] = Connection()
                self._watch[s] = True
            side = conn.sides[d]
            if side.mode == BODY and seq == side.next_seq and length < side.remaining and not end:
                # the middle of a body: nothing to read, nor in the segments that continue it
                j = runs.skip(j - 1, side, cts)
                continue
            ts, i = cts[j - 1], cidx[j - 1]
            if length:
                start = cstart[j - 1]
                side.feed(seq, buf[start : start + chave[j - 1]].tobytes(), length, ts, cframe[j - 1])
            if conn.done:
                if self.http_since[s] == NEVER:
                    self.http_since[s] = self.chunks
                    self.first_found = min(self.first_found, self.chunks)
                for msg in conn.done:
                    self._message(s, msg, p, i)
                conn.done.clear()
            if end:
                conn.sides[d].close()
                conn.ended += 1
            if conn.finished:
                for resp in conn.finished:
                    self._close(s, resp)
                conn.finished.clear()
            if conn.ended >= 2 or (end and p.tcp_flags[i] & TCP_RST) or (
                    self.http_since[s] == NEVER and not any(x.buf or x.current for x in conn.sides)):
                # closed, reset, or looked like HTTP for 4 bytes only
                for side in conn.sides:
                    side.close()
                for resp in conn.finished:
                    self._close(s, resp)
                del self._conns[s]
                self._servers.pop(s, None)
                self._watch[s] = False

    def _message(self, s: int, msg: Message, p: PacketTable, i: int) -> None:
        if msg.is_request:
            self.requests += 1
            self._methods[msg.method] = self._methods.get(msg.method, 0) + 1
            g = self._group(msg)
            g[0] += 1
            if s not in self._servers:
                self._servers[s] = _endpoint(format_addr(p.dst_hi[i], p.dst_lo[i]), int(p.dport[i]))
            return
        self.responses += 1
        code = str(msg.status)
        self._status[code] = self._status.get(code, 0) + 1
        # the response's body is still to come: its totals are taken when the connection is drained

    def _group(self, req: Message) -> list:
        key = (req.host, _prefix(req.path))
        g = self._hosts.get(key)
        if g is None:
            if len(self._hosts) >= 4 * self.max_hosts:
                key = ("(other)", "")
                g = self._hosts.get(key)
            if g is None:
                g = self._hosts[key] = [0, 0, 0, 0, Sampler(4096), []]
        return g

    def _close(self, s: int, resp: Message) -> None:
        """A response whose body is complete (or the capture ended): its figures."""
        req = resp.request
        if req is None or resp.status < 200:
            return
        ms = (resp.ts - req.ts) / _MS
        transfer = (resp.last_ts - resp.first_ts) / _MS
        self._pending[0].append(ms)
        self._pending[1].append(transfer)
        g = self._group(req)
        g[1] += 1
        g[2] += resp.status >= 400
        g[3] += resp.size
        g[5].append(ms)
        self._dirty[id(g)] = g
        self._closed += 1
        row = (ms, -req.frame, -self._closed)  # ties: the earlier request first; never two equal keys
        if len(self._slowest) < self.max_slowest or (self._slowest and row > self._slowest[0][:3]):
            item = (*row, HttpRequest(
                method=req.method, host=req.host, path=req.path, status=resp.status, response_time_ms=ms,
                transfer_ms=transfer, response_bytes=resp.size, stream=s, request_frame=req.frame,
                response_frame=resp.frame, ts=req.ts / 1e9))
            if len(self._slowest) < self.max_slowest:
                heapq.heappush(self._slowest, item)
            else:
                heapq.heapreplace(self._slowest, item)
        if len(self._ex_server) >= self.max_exchanges:
            self.dropped_exchanges += 1
            return
        for col, v in zip(self._ex, (s, req.ts, resp.ts, resp.last_ts, req.frame), strict=True):
            col.append(v)
        self._ex_server.append(_host_name(req.host) or self._servers.get(s, "?"))

    def finalize(self) -> HttpSummary:
        """The summary; call `exchanges()` after it for the latency breakdown."""
        for s, conn in self._conns.items():
            for side in conn.sides:
                side.close()
            for resp in conn.finished:
                self._close(s, resp)
        self._conns.clear()
        self._flush()
        answered = sum(g[1] for g in self._hosts.values())
        groups = sorted(self._hosts.items(), key=lambda kv: (-kv[1][0], kv[0]))[: self.max_hosts]
        return HttpSummary(
            requests=self.requests, responses=self.responses, unanswered=max(0, self.requests - answered),
            connections=int(np.count_nonzero(self.http_since != NEVER)),
            methods=dict(sorted(self._methods.items(), key=lambda kv: -kv[1])),
            status_codes=dict(sorted(self._status.items())),
            response_time_ms=percentile_stats(self._times.values()),
            transfer_ms=percentile_stats(self._transfer.values()),
            slowest=[x[3] for x in sorted(self._slowest, key=lambda x: (-x[0], -x[1], -x[2]))],
            hosts=[HttpHostStats(host=h, path_prefix=pre, requests=g[0], responses=g[1], errors=g[2],
                                 response_bytes=g[3], response_time_ms=percentile_stats(g[4].values()))
                   for (h, pre), g in groups],
        )

    def exchanges(self) -> list[AppExchange]:
        """The request/response pairs seen (up to `max_exchanges`), for the latency breakdown."""
        cols = [c.tolist() for c in self._ex]
        return [AppExchange("http", srv, s, a, b, c, fr)
                for srv, s, a, b, c, fr in zip(self._ex_server, *cols, strict=True)]

    def limits(self) -> dict[str, int]:
        return {"http_slowest": self.max_slowest, "http_hosts": self.max_hosts,
                "http_exchanges": self.max_exchanges}


class _Runs:
    """Runs of in-sequence segments of one connection direction among a chunk's picked segments (ordered by
    connection, capture order within), so that the middle of a body is skipped in one step instead of one
    Python iteration per segment."""

    def __init__(self, stream: npt.NDArray[np.int64], direction: npt.NDArray[np.uint8],
                 seq: npt.NDArray[np.uint32], length: npt.NDArray[np.uint32],
                 ends: npt.NDArray[np.bool_]) -> None:
        sq, ln = seq.astype(np.int64), length.astype(np.int64)
        # j + 1 continues j: same connection and direction, next in sequence, no FIN/RST
        follows = (stream[1:] == stream[:-1]) & (direction[1:] == direction[:-1]) \
            & ((sq[:-1] + ln[:-1]) % (1 << 32) == sq[1:]) & ~ends[1:]
        self.breaks = np.flatnonzero(~follows)  # j where a run ends
        self.csum = np.concatenate(([0], np.cumsum(ln)))  # csum[j] = bytes of rows[:j]
        self.size = stream.size

    def skip(self, j: int, side: Side, stamps: list[int]) -> int:
        """Consume row j (in sequence, inside the body being read) and the rows after it that continue it
        and stay inside the body (the one holding its last byte is left to the framing code); returns the
        next row to frame."""
        b = self.breaks
        pos = int(np.searchsorted(b, j))
        last = int(b[pos]) if pos < b.size else self.size - 1
        base = self.csum[j]
        m = min(int(np.searchsorted(self.csum, base + side.remaining, "left")) - 2, last)  # rows j..m
        m = max(m, j)
        side.skip(int(self.csum[m + 1] - base), stamps[m])
        return m + 1


def _grown(arr: npt.NDArray[Any], size: int, fill: object) -> npt.NDArray[Any]:
    """A larger copy (a new array: the other thread may hold the old one)."""
    out = np.full(size, fill, arr.dtype)
    out[: arr.size] = arr
    return out


def _host_name(host: str) -> str:
    """The Host header without its port: "api.test:8080" -> "api.test", "[2001:db8::1]:80" ->
    "[2001:db8::1]"."""
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and not name.endswith(":") else host


def _endpoint(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
