"""DNS-format protocols told apart (unicast DNS over UDP and TCP, mDNS, LLMNR) and a non-DNS stream on TCP
port 53 not counted: captures built with scapy, counts compared with tshark's dns.flags.response."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from pcap_analyzer.api import analyze

TSHARK = shutil.which("tshark")
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def _udp_exchange(port: int, n: int, name: str, answered: bool = True) -> list[Packet]:
    out = []
    for i in range(n):
        ip_q = IP(src="192.0.2.10", dst="224.0.0.251" if port == 5353 else "192.0.2.53")
        q = ETH / ip_q / UDP(sport=40000 + i, dport=port) / DNS(id=i, rd=1, qd=DNSQR(qname=f"{name}{i}"))
        out.append(q)
        if answered:
            answer = DNSRR(rrname=f"{name}{i}", rdata="192.0.2.1")
            r = DNS(id=i, qr=1, qd=DNSQR(qname=f"{name}{i}"), an=answer)
            out.append(ETH / IP(src="192.0.2.53", dst="192.0.2.10") / UDP(sport=port, dport=40000 + i) / r)
    return out


def _tcp_stream(sport: int, payloads: list[bytes]) -> list[Packet]:
    """One TCP connection to port 53 (handshake, then each payload as a segment from the server)."""
    c, s = IP(src="192.0.2.10", dst="192.0.2.53"), IP(src="192.0.2.53", dst="192.0.2.10")
    out = [
        ETH / c / TCP(sport=sport, dport=53, flags="S", seq=100),
        ETH / s / TCP(sport=53, dport=sport, flags="SA", seq=500, ack=101),
        ETH / c / TCP(sport=sport, dport=53, flags="A", seq=101, ack=501),
    ]
    seq = 501
    for data in payloads:
        out.append(ETH / s / TCP(sport=53, dport=sport, flags="PA", seq=seq, ack=101) / Raw(data))
        seq += len(data)
    return out


def _tcp_dns(query: DNS) -> bytes:
    wire = bytes(query)
    return len(wire).to_bytes(2, "big") + wire


def _tshark_messages(path: Path) -> tuple[int, int]:
    out = subprocess.run(
        [TSHARK or "tshark", "-r", str(path), "-2", "-T", "fields", "-e", "dns.flags.response"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out.count("0"), out.count("1")


def _write(path: Path, packets: list[Packet]) -> Path:
    for k, p in enumerate(packets):
        p.time = 1_700_000_000 + k * 0.01
    wrpcap(str(path), packets)
    return path


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_mdns_and_llmnr_are_counted_apart_from_unicast_dns(tmp_path: Path) -> None:
    packets = _udp_exchange(53, 5, "www.example.test.") + _udp_exchange(5355, 4, "printer", answered=False)
    packets += _udp_exchange(5353, 3, "_ipp._tcp.local.", answered=False)
    path = _write(tmp_path / "dns_protocols.pcap", packets)
    r = analyze(path)
    assert (r.dns.queries, r.dns.responses) == _tshark_messages(path) == (12, 5)
    got = {name: (c.queries, c.responses) for name, c in r.dns.by_protocol.items()}
    assert got == {"dns": (5, 5), "llmnr": (4, 0), "mdns": (3, 0)}  # by construction


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tcp_port_53_counts_dns_messages_not_other_data(tmp_path: Path) -> None:
    one = _tcp_dns(DNS(id=7, qr=1, qd=DNSQR(qname="a.example.test."), an=DNSRR(rrname="a.example.test.")))
    # Not DNS: a Windows executable served on port 53 (its "MZ" header read as a length is 19,802 bytes).
    binary = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 10
    packets = _tcp_stream(41000, [one]) + _tcp_stream(41001, [binary[i : i + 1200] for i in (0, 1200)])
    path = _write(tmp_path / "tcp53.pcap", packets)
    r = analyze(path)
    assert (r.dns.queries, r.dns.responses) == _tshark_messages(path) == (0, 1)
    assert {name: (c.queries, c.responses) for name, c in r.dns.by_protocol.items()} == {"dns_tcp": (0, 1)}
