"""HTTP/1.x framing (analyzers/http_parse.py) on segments whose truth is known by construction."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pcap_analyzer.analyzers.http_parse import Connection, Message, printable


class Wire:
    """Both directions of one connection: `send(side, bytes, t)` feeds a segment in sequence."""

    def __init__(self) -> None:
        self.conn = Connection()
        self.seq = [1000, 50000]
        self.frame = 0

    def send(self, side: int, data: bytes, t: int, *, seq: int | None = None, cut: int | None = None) -> None:
        self.frame += 1
        at = self.seq[side] if seq is None else seq
        captured = data if cut is None else data[:cut]
        self.conn.sides[side].feed(at, captured, len(data), t, self.frame)
        self.seq[side] = max(self.seq[side], at + len(data))

    def responses(self) -> list[Message]:
        for s in self.conn.sides:
            s.close()
        return [m for m in self.conn.finished]


def _req(path: str = "/", method: str = "GET", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: h.test\r\n{extra}\r\n".encode()


def test_chunked_body_split_anywhere() -> None:
    body = b"5\r\nhello\r\n10;ext=1\r\n" + b"x" * 16 + b"\r\n0\r\nTrailer: 1\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for cut in range(1, len(body)):
        w = Wire()
        w.send(0, _req(), 1)
        w.send(1, head + body[:cut], 2)
        w.send(1, body[cut:], 3)
        w.send(0, _req("/next"), 4)
        w.send(1, b"HTTP/1.1 204 No Content\r\n\r\n", 5)
        first, second = w.responses()
        assert (first.status, first.last_ts, first.size) == (200, 3, len(head) + len(body)), cut
        assert second.request is not None and second.request.path == "/next"


def test_head_204_304_and_100_continue_have_no_body() -> None:
    w = Wire()
    w.send(0, _req("/a", "HEAD"), 1)
    w.send(1, b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 2)  # length of the GET it describes
    w.send(0, _req("/b", "POST", "Content-Length: 3\r\nExpect: 100-continue\r\n"), 3)
    w.send(1, b"HTTP/1.1 100 Continue\r\n\r\n", 4)
    w.send(0, b"abc", 5)
    w.send(1, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 6)
    statuses = [(m.status, m.request.path if m.request else None) for m in w.conn.done if not m.is_request]
    assert statuses == [(200, "/a"), (100, "/b"), (304, "/b")]
    assert [m.status for m in w.responses()] == [200, 100, 304]


def test_body_until_close_and_retransmitted_head() -> None:
    w = Wire()
    w.send(0, b"GET / HTTP/1.0\r\n\r\n", 1)
    head = b"HTTP/1.0 200 OK\r\n\r\n"
    w.send(1, head + b"a" * 100, 2)
    w.send(1, head + b"a" * 100, 3, seq=50000)  # the same segment again: a retransmission
    w.send(1, b"b" * 50, 4)
    (resp,) = w.responses()
    assert (resp.size, resp.last_ts) == (len(head) + 150, 4)
    assert w.conn.sides[1].mode == 0


def test_lost_head_bytes_resynchronise_at_the_next_message() -> None:
    w = Wire()
    w.send(0, _req("/1"), 1)
    w.seq[1] += 100  # the start of the response was not captured
    w.send(1, b"tail of a lost response", 2)
    w.send(0, _req("/2"), 3)
    w.send(1, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4)
    (resp,) = w.responses()
    assert resp.request is not None and resp.request.path == "/1"  # answers are matched in order


def test_cut_by_snaplen() -> None:
    w = Wire()
    w.send(0, _req("/big"), 1)
    w.send(1, b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n", 2)
    w.send(1, b"z" * 1500, 3, cut=60)  # body bytes not captured: skipped by length
    w.send(1, b"z" * 1500, 4, cut=60)
    w.send(0, _req("/after"), 5)
    w.send(1, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 6)
    first, second = w.responses()
    assert (first.last_ts, second.status, second.request.path) == (4, 404, "/after")  # type: ignore[union-attr]


def test_empty_lines_between_messages() -> None:
    w = Wire()
    w.send(0, _req("/1") + b"\r\n", 1)
    w.send(0, b"\r\n" + _req("/2"), 2)
    assert [m.path for m in w.conn.done] == ["/1", "/2"]


def test_printable_paths() -> None:
    assert printable(b"/a?b=c&d") == "/a?b=c&d"
    assert printable(b"/\x00\xff\\<") == "/\\x00\\xff\\x5c<"
    long = printable(b"/" + b"p" * 500)
    assert len(long) == 200 and long.endswith("…")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=300), st.integers(-400, 400)), max_size=30))
def test_hostile_segments_never_raise(segments: list[tuple[int, bytes, int]]) -> None:
    w = Wire()
    prefixes = [b"GET / HTTP/1.1\r\nContent-Length: 7\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
    for k, (side, data, shift) in enumerate(segments):
        if k < 2:
            data = prefixes[k] + data
        w.send(side, data, k, seq=(w.seq[side] + shift) % (1 << 32))
    w.responses()
