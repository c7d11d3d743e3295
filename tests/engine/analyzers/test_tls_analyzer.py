"""TlsAnalyzer over written captures whose TLS bytes come from a real in-memory handshake."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from pcap_analyzer import analyze
from tests.engine.analyzers.tls_flights import Flight, handshake, make_cert
from tests.engine.builders import Rec, write_pcap

CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 8443)  # not a TLS port: found by content


@pytest.fixture(scope="module")
def flights(tmp_path_factory: pytest.TempPathFactory) -> list[Flight]:
    return handshake(make_cert(tmp_path_factory.mktemp("pki")), ssl.TLSVersion.TLSv1_3)


def _packet(direction: int, seq: int, ack: int, flags: str, payload: bytes = b"") -> bytes:
    (src, sport), (dst, dport) = (CLIENT, SERVER) if direction == 0 else (SERVER, CLIENT)
    return bytes(Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags)
                 / payload)  # fmt: skip


def _capture(path: Path, flights: list[Flight], *, size: int = 500, resend_first_server_segment: bool = False,
             snaplen: int | None = None) -> Path:  # fmt: skip
    """SYN, SYN/ACK, ACK, then the flights in segments of `size` bytes, 1 ms apart."""
    seq = [1000, 9000]
    pkts = [_packet(0, 999, 0, "S"), _packet(1, 8999, 1000, "SA"), _packet(0, 1000, 9000, "A")]
    first_server: bytes | None = None
    for direction, data in flights:
        for at in range(0, len(data), size):
            piece = data[at : at + size]
            pkts.append(_packet(direction, seq[direction], seq[1 - direction], "PA", piece))
            if direction == 1 and first_server is None:
                first_server = pkts[-1]
            seq[direction] += len(piece)
    if resend_first_server_segment and first_server is not None:
        pkts.append(first_server)  # a late retransmission of the ServerHello, after the handshake
    recs = [
        Rec(1_700_000_000_000_000_000 + i * 1_000_000, p[:snaplen] if snaplen else p, len(p))
        for i, p in enumerate(pkts)
    ]
    return write_pcap(path, recs)


def test_handshake_found_on_any_port(tmp_path: Path, flights: list[Flight]) -> None:
    t = analyze(_capture(tmp_path / "a.pcap", flights)).tls
    assert (t.handshakes, t.server_hellos, t.completed) == (1, 1, 1)
    assert t.server_names == {"x.test": 1} and t.versions == {"TLS 1.3": 1}
    assert t.servers[0].server == "x.test" and t.servers[0].hello_ms.count == 1


def test_a_hello_resent_after_the_handshake_is_not_a_new_one(tmp_path: Path, flights: list[Flight]) -> None:
    t = analyze(_capture(tmp_path / "r.pcap", flights, resend_first_server_segment=True)).tls
    assert (t.handshakes, t.server_hellos, t.connections) == (1, 1, 1)


def test_cut_by_the_snap_length_counts_nothing_it_cannot_read(tmp_path: Path, flights: list[Flight]) -> None:
    t = analyze(_capture(tmp_path / "s.pcap", flights, snaplen=96)).tls
    assert (t.handshakes, t.server_hellos, t.connections) == (0, 0, 0)
