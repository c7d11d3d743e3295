"""TlsConnection on real handshake bytes (Python's ssl in memory), cut into segments every possible way."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pcap_analyzer.analyzers import tls_wire as w
from pcap_analyzer.analyzers.tls_conn import Counts, TlsConnection
from tests.engine.analyzers.tls_flights import Flight, handshake, make_cert


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_cert(tmp_path_factory.mktemp("pki"))



def feed(flights: list[Flight], size: int, drop: int | None = None, repeat: int | None = None) -> tuple[
    TlsConnection, Counts, list[int]
]:  # fmt: skip
    """Cut every flight into segments of `size` bytes, one timestamp each (1, 2, 3 ...); drop or send twice
    the segment numbered `drop` / `repeat`. Returns the connection, the counts and each flight's first ts."""
    conn, counts = TlsConnection(0, 0, (0, 0, 0, 0, 0, 0)), Counts()
    seq, ts, starts = [1000, 5000], 0, []
    for direction, data in flights:
        starts.append(ts + 1)
        for at in range(0, len(data), size):
            ts += 1
            piece = data[at : at + size]
            if ts != drop:
                for _ in range(2 if ts == repeat else 1):
                    conn.feed(direction, seq[direction], piece, ts, ts, counts)
            seq[direction] += len(piece)
    return conn, counts, starts


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
@pytest.mark.parametrize("size", [1, 2, 5, 37, 100, 1460, 1 << 16])
def test_any_segmentation_gives_the_same_handshake(cert: tuple[Path, Path], version: ssl.TLSVersion,
                                                   size: int) -> None:  # fmt: skip
    flights = handshake(cert, version)
    conn, counts, starts = feed(flights, size)
    assert (counts.client_hellos, counts.server_hellos) == (1, 1)
    assert conn.server_name == "x.test" and conn.alpn_offered == ["h2", "http/1.1"]
    tls13 = version == ssl.TLSVersion.TLSv1_3
    assert w.version_name(conn.version or 0) == ("TLS 1.3" if tls13 else "TLS 1.2")
    assert conn.alpn_selected == ("h2" if version == ssl.TLSVersion.TLSv1_2 else None)  # 1.3: encrypted
    # the ClientHello is the first record of the first flight: dated by the segment holding its last byte
    ch_end = w.RECORD_HEADER + int.from_bytes(flights[0][1][3:5], "big")
    assert conn.ch_ns == starts[0] + (ch_end - 1) // size
    sh_end = w.RECORD_HEADER + int.from_bytes(flights[1][1][3:5], "big")
    assert conn.sh_ns == starts[1] + (sh_end - 1) // size
    assert conn.done_ns is not None and conn.done_ns > conn.sh_ns
    assert not counts.alerts


def test_retransmitted_segments_change_nothing(cert: tuple[Path, Path]) -> None:
    flights = handshake(cert, ssl.TLSVersion.TLSv1_3)
    want, _, _ = feed(flights, 50)
    for repeat in range(1, 40):
        conn, counts, _ = feed(flights, 50, repeat=repeat)
        assert (conn.ch_ns, conn.sh_ns, conn.done_ns) == (want.ch_ns, want.sh_ns, want.done_ns)
        assert counts.client_hellos == 1 and counts.server_hellos == 1


def test_a_lost_segment_never_raises(cert: tuple[Path, Path]) -> None:
    flights = handshake(cert, ssl.TLSVersion.TLSv1_2)
    for drop in range(1, 60):
        conn, counts, _ = feed(flights, 50, drop=drop)
        assert counts.client_hellos <= 1 and counts.server_hellos <= 1


def test_sslv2_client_hello_is_counted() -> None:
    # SSL 2.0-format ClientHello offering TLS 1.0 (RFC 5246 appendix E.2): length 0x1c, 3 cipher specs
    body = bytes([1, 3, 1, 0, 9, 0, 0, 0, 16]) + bytes(9) + bytes(range(16))
    record = bytes([0x80, len(body)]) + body
    conn, counts = TlsConnection(0, 0, (0, 0, 0, 0, 0, 0)), Counts()
    conn.feed(0, 1, record, 7, 70, counts)
    assert counts.client_hellos == 1 and conn.ch_frame == 7 and conn.ch_ns == 70


_SEGMENT = st.tuples(st.integers(0, 1), st.integers(0, (1 << 32) - 1), st.binary(max_size=300))


@given(st.lists(_SEGMENT, max_size=20))
def test_arbitrary_bytes_never_raise(segments: list[tuple[int, int, bytes]]) -> None:
    conn, counts = TlsConnection(0, 0, (0, 0, 0, 0, 0, 0)), Counts()
    hello = b"\x16\x03\x01\x00\x30\x01\x00\x00\x2c\x03\x03"  # a ClientHello record header, then whatever
    conn.feed(0, 0, hello, 1, 1, counts)
    for i, (direction, seq, data) in enumerate(segments):
        conn.feed(direction, seq, hello + data if i % 3 == 0 else data, i + 2, i + 2, counts)


def test_a_broken_extension_keeps_what_came_before(cert: tuple[Path, Path]) -> None:
    ch = handshake(cert, ssl.TLSVersion.TLSv1_3)[0][1]
    body = bytearray(ch[w.RECORD_HEADER + 4 : w.RECORD_HEADER + 4 + int.from_bytes(ch[6:9], "big")])
    hello = w.parse_hello(bytes(body), client=True)
    assert hello.server_name == "x.test"
    # the last extension announces more bytes than the message holds (as in a fuzzed capture)
    at = 35 + body[34]  # after the session id
    at += 2 + int.from_bytes(body[at : at + 2], "big")  # cipher suites
    at += 1 + body[at]  # compression methods
    end, at = len(body), at + 2
    last = at
    while at + 4 <= end:
        last, at = at, at + 4 + int.from_bytes(body[at + 2 : at + 4], "big")
    body[last + 2 : last + 4] = b"\xff\xff"
    assert w.parse_hello(bytes(body), client=True).server_name == "x.test"
