"""HTTP/1.x message framing over one direction of a TCP connection (RFC 9112), fed segment by segment.

Plain Python, run only on the payload of connections already seen carrying HTTP (see analyzers/http.py).
Headers may span segments; bodies are skipped by length (Content-Length, chunked coding, or until the
connection closes), so a large download costs one subtraction per segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# RFC 9110 methods plus the WebDAV ones a capture commonly holds
METHODS = (b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
           b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK")
REQUEST_LINE = re.compile(rb"(%s) (\S+) HTTP/1\.[01]\r?\n" % b"|".join(METHODS))
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3})(?: [^\r\n]*)?\r?\n")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_ODD = re.compile(rb"[^\x20-\x5b\x5d-\x7e]")  # not printable ASCII, or a backslash
# the header fields framing needs (RFC 9112 section 6), first occurrence wins
_FIELDS = re.compile(rb"^(host|content-length|transfer-encoding)[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)
MAX_HEADER_BYTES = 64 * 1024  # a longer head is not HTTP (or not worth following)
MAX_PATH = 200
_SEQ_MOD = 1 << 32

# what a side is reading
HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_TRAILER, UNTIL_CLOSE, LOST = range(7)


def printable(raw: bytes, limit: int = MAX_PATH) -> str:
    """Text of a header value or path: printable ASCII kept, anything else as \\xNN, cut to `limit` chars."""
    if len(raw) <= limit and not _ODD.search(raw):
        return raw.decode("ascii")
    out = "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}" for b in raw[: limit + 1])
    return out if len(out) <= limit else out[: limit - 1] + "…"


@dataclass(slots=True)
class Message:
    """One request or response. Times in ns, frames are capture frame numbers."""

    is_request: bool
    first_ts: int  # segment holding the first byte
    ts: int  # segment completing the headers (where tshark reports it with http.desegment_body off)
    frame: int
    method: str = ""
    host: str = ""
    path: str = ""
    status: int = 0
    last_ts: int = 0  # segment holding the last byte of the body
    size: int = 0  # header + body bytes seen
    request: Message | None = None  # for a response: the request it answers


@dataclass(slots=True)
class Side:
    """Framing state of one direction of `conn`."""

    conn: Connection
    buf: bytearray = field(default_factory=bytearray)
    mode: int = HEAD
    remaining: int = 0
    next_seq: int = -1
    current: Message | None = None
    head_ts: int = 0

    def feed(self, seq: int, data: bytes, length: int, ts: int, frame: int) -> None:
        """One segment: `length` payload bytes from raw sequence `seq`, of which `data` were captured."""
        if self.next_seq >= 0:
            d = (seq - self.next_seq) % _SEQ_MOD
            if d >= _SEQ_MOD // 2:  # before what we have: a retransmission, keep only what is new
                d -= _SEQ_MOD
                if d + length <= 0:
                    if self.current is not None and self.mode in (BODY, UNTIL_CLOSE):
                        self.current.last_ts = ts  # fills a hole in the body being received
                    return
                data, length = data[-d:], length + d
            elif d > 0 and ((self.mode == BODY and d < self.remaining) or self.mode == UNTIL_CLOSE):
                self._body(d, ts)  # a hole in a body of known length: skip it, it may be resent
                self.remaining -= d
            elif d > 0:  # bytes not captured where framing needs them: resynchronise at a message start
                self._lose(ts)
        self.next_seq = (seq + length) % _SEQ_MOD
        if self.mode == LOST:
            if not (REQUEST_LINE.match(data) or STATUS_LINE.match(data)):
                return
            self.mode = HEAD
        if len(data) < length:  # cut by the snap length: only whole bodies can be skipped blind
            if self.mode == BODY and length <= self.remaining:
                self._body(length, ts)
                self.remaining -= length
                if self.remaining == 0:
                    self._finish(ts)
            else:
                self._lose(ts)
            return
        pos = 0
        while pos < length and self.mode != LOST:
            pos = self._step(data, pos, ts, frame)

    def skip(self, length: int, ts: int) -> None:
        """A segment in sequence, wholly inside the body being read (`feed` without looking at the bytes)."""
        self.next_seq = (self.next_seq + length) % _SEQ_MOD
        self.remaining -= length
        self._body(length, ts)

    def _lose(self, ts: int) -> None:
        self._finish(ts)
        self.buf.clear()
        self.mode = LOST

    def _finish(self, ts: int) -> None:
        """The current message is complete (or lost): hand a response to the connection's `finished`."""
        m = self.current
        if m is not None and not m.is_request:
            self.conn.finished.append(m)
        self.current = None
        self.mode = HEAD

    def close(self) -> None:
        """The connection ended (or the capture did): a response still open ends with what was seen."""
        self._finish(0)

    def _body(self, n: int, ts: int) -> None:
        m = self.current
        if m is not None:
            m.size += n
            m.last_ts = ts

    def _step(self, data: bytes, pos: int, ts: int, frame: int) -> int:
        mode = self.mode
        n = len(data) - pos
        if mode == BODY or mode == CHUNK_DATA:
            take = min(n, self.remaining)
            self._body(take, ts)
            self.remaining -= take
            if self.remaining == 0:
                if mode == BODY:
                    self._finish(ts)
                else:
                    self.mode = CHUNK_SIZE
            return pos + take
        if mode == UNTIL_CLOSE:
            self._body(n, ts)
            return len(data)
        # HEAD, CHUNK_SIZE and CHUNK_TRAILER read lines: gather until the end of what they need
        if not self.buf:
            if mode == HEAD:  # empty lines before a start line are ignored (RFC 9112 section 2.2)
                while pos < len(data) and data[pos] in (10, 13):
                    pos += 1
                if pos == len(data):
                    return pos
            self.head_ts = ts
        start = len(self.buf)
        self.buf += data[pos:]
        if mode == HEAD:
            return self._head(start, pos, ts, frame)
        end = self.buf.find(b"\n")
        if end < 0:
            if len(self.buf) > MAX_HEADER_BYTES:
                self._lose(ts)
            self._body(n, ts)
            return len(data)
        line = bytes(self.buf[:end])
        used = end + 1 - start
        self._body(used, ts)
        self.buf.clear()
        if mode == CHUNK_SIZE:
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self._lose(ts)
                return len(data)
            if size == 0:
                self.mode = CHUNK_TRAILER
            else:
                self.mode, self.remaining = CHUNK_DATA, size + 2  # data then CRLF
        elif line.strip() == b"":  # the blank line that ends the trailer
            self._finish(ts)
        return pos + used

    def _head(self, start: int, pos: int, ts: int, frame: int) -> int:
        """The buffer holds `start` earlier bytes, then this segment's from `pos`; returns where the head
        ends in the segment."""
        buf = self.buf
        m = _HEADER_END.search(buf, max(0, start - 3))
        if m is None:
            end = pos + len(buf) - start
            if len(buf) > MAX_HEADER_BYTES or (len(buf) >= 12 and not _start_line(buf)):
                self._lose(ts)
            return end
        head = bytes(buf[: m.end()])
        used = m.end() - start  # bytes of this segment that belong to the head
        buf.clear()
        req, status = REQUEST_LINE.match(head), STATUS_LINE.match(head)
        if not (req or status):
            self._lose(ts)
            return pos + used
        headers = _headers(head)
        msg = Message(is_request=bool(req), first_ts=self.head_ts, ts=ts, frame=frame, last_ts=ts,
                      size=len(head))
        if req:
            msg.method = req.group(1).decode()
            msg.path = printable(req.group(2))
            msg.host = printable(headers.get(b"host", b""), 100)
            body = _length(headers, 0)
            self.conn.request(msg)
        else:
            msg.status = int(status.group(1))  # type: ignore[union-attr]
            self.conn.response(msg)
            asked = msg.request.method if msg.request else ""
            if msg.status < 200 or msg.status in (204, 304) or asked == "HEAD":
                body = 0
            elif asked == "CONNECT" and msg.status < 300:
                body = -2  # a tunnel: nothing after this is HTTP
            else:
                body = _length(headers, -1)
        self.current = msg
        if body == -3:
            self.mode = CHUNK_SIZE
        elif body == -1:
            self.mode = UNTIL_CLOSE
        elif body == -2:
            self.mode = LOST
        elif body > 0:
            self.mode, self.remaining = BODY, body
        else:
            self._finish(ts)
        return pos + used


def _start_line(buf: bytearray) -> bool:
    """Whether the buffer (12 bytes or more) starts like a request or status line."""
    nl = buf.find(b"\n")
    if nl >= 0:
        line = bytes(buf[: nl + 1])
        return bool(REQUEST_LINE.match(line) or STATUS_LINE.match(line))
    head = bytes(buf[:16])
    return head.startswith(b"HTTP/1.") or any(head.startswith(m + b" ") for m in METHODS)


def _headers(head: bytes) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    for name, value in _FIELDS.findall(head, head.find(b"\n") + 1):
        out.setdefault(name.lower(), value.strip())
    return out


def _length(headers: dict[bytes, bytes], default: int) -> int:
    """Body length: >= 0 bytes, -3 chunked, `default` when neither header says (RFC 9112 section 6.3)."""
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        return -3
    value = headers.get(b"content-length")
    if value is not None:
        try:
            return max(0, int(value.split(b",")[0]))
        except ValueError:
            return default
    return default


class Connection:
    """Both directions of one TCP connection and the requests still waiting for a response (in order:
    HTTP/1.1 answers pipelined requests in the order they were sent)."""

    __slots__ = ("sides", "pending", "done", "finished", "ended")

    def __init__(self) -> None:
        self.sides = (Side(self), Side(self))
        self.pending: list[Message] = []
        self.done: list[Message] = []  # messages whose head is complete, in order; drained by the analyzer
        self.finished: list[Message] = []  # responses whose body is complete; drained by the analyzer
        self.ended = 0  # FINs seen

    def request(self, msg: Message) -> None:
        self.pending.append(msg)
        self.done.append(msg)

    def response(self, msg: Message) -> None:
        if msg.status >= 200 and self.pending:
            msg.request = self.pending.pop(0)
        elif msg.status < 200 and self.pending:
            msg.request = self.pending[0]
        self.done.append(msg)
