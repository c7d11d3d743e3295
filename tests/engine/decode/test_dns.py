"""DNS header and first question over UDP and TCP, and name decoding as tshark shows names."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from pcap_analyzer.decode.dns import read_dns_name
from pcap_analyzer.decode.dns_tcp import DnsTcpReassembler
from tests.engine.builders import records_from_scapy, write_pcap
from tests.engine.decode.chunks import decode


def test_dns_over_udp_and_tcp() -> None:
    q = DNS(id=0x1234, rd=1, qd=DNSQR(qname="www.example.com", qtype="AAAA"))
    msg = bytes(q)
    udp = Ether() / IP() / UDP(sport=40000, dport=53) / q
    tcp = Ether() / IP() / TCP(sport=40001, dport=53, flags="PA") / (struct.pack("!H", len(msg)) + msg)
    mdns = Ether() / IP() / UDP(sport=5353, dport=5353) / DNS(id=0, qr=1, qd=DNSQR(qname="x.local"))
    t = decode([udp, tcp, mdns])
    assert list(t.is_dns) == [True, False, True]  # TCP needs the stream: decode.dns_tcp marks it
    assert len(DnsTcpReassembler().update(t)) == 1
    assert list(t.is_dns) == [True, True, True]
    assert list(t.dns_id) == [0x1234, 0x1234, 0]
    assert list(t.dns_qtype) == [28, 28, 1] and list(t.dns_qdcount) == [1, 1, 1]
    assert t.dns_flags[0] == 0x0100 and t.dns_flags[2] & 0x8000
    for i, start in ((0, 14 + 20 + 8), (1, 14 + 20 + 20 + 2)):
        off = int(t.dns_qname_offset[i])
        assert read_dns_name(t.buf, off, off - 12) == "www.example.com"
        assert off - int(t.data_offset[i]) == start + 12


def test_dns_header_cut_by_caplen_keeps_what_was_captured() -> None:
    """As tshark: a header cut after the id and flags is a DNS message with those (its QR bit counts it),
    cut before them it is none; the counts and the question need the whole header."""
    pkt = Ether() / IP() / UDP(dport=53) / DNS(id=9, qd=DNSQR(qname="a.b"))
    t = decode([pkt, pkt, pkt], caplens=[14 + 20 + 8 + 3, 14 + 20 + 8 + 11, 14 + 20 + 8 + 12])
    assert list(t.is_dns) == [False, True, True]
    assert t.dns_id[1] == 9 and t.dns_qdcount[1] == 0 and t.dns_qname_offset[1] == 0
    assert t.dns_qdcount[2] == 1 and t.dns_qname_offset[2] == 0 and t.dns_qtype[2] == 0


def test_read_dns_name_compression_and_loops() -> None:
    msg = b"\0" * 12 + b"\x03foo\x00" + b"\x03bar\xc0\x0c" + b"\xc0\x17" + b"\x03baz\xc0\x19"
    assert read_dns_name(msg, 17, 0) == "bar.foo"
    assert read_dns_name(msg, 23, 0) == "..."  # a pointer to itself
    looped = read_dns_name(msg, 25, 0)  # a label then a pointer back to it
    assert looped.startswith("baz.baz.") and looped.endswith("...") and len(looped) < 300
    assert read_dns_name(b"\x00", 0, 0) == "<Root>"
    assert read_dns_name(b"\x05ab", 0, 0) == "..."
    long = b"".join(b"\x3f" + b"a" * 63 for _ in range(5)) + b"\0"
    assert len(read_dns_name(long, 0, 0)) < 300


def test_read_dns_name_matches_tshark(tmp_path: Path) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    names = [
        b"\x04a\x01b.\x03c d\x00",
        b"\x03<x>\x02\xffz\x00",
        b'\x05a\\b"c\x00',
        b"\x09a\t\n\r\x7f\x1b\\\x07\x08\x00",
        b"\x04\xc3\xa9\x80z\x02\xe2\x82\x00",
    ]
    pkts = []
    for k, name in enumerate(names):
        body = struct.pack("!HHHHHH", k, 0x0100, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01"
        pkts.append(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000 + k, dport=53) / body)
    path = write_pcap(tmp_path / "names.pcap", records_from_scapy(pkts))
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "dns.qry.name"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    t = decode(pkts)
    ours = [read_dns_name(t.buf, int(o), int(o) - 12) for o in t.dns_qname_offset]
    assert ours == out


def test_hostile_corpus_names(corpus_dir: Path) -> None:
    from pcap_analyzer.capture.open import open_capture
    from pcap_analyzer.decode import decode_chunk

    with open_capture(corpus_dir / "dns_hostile_names.pcap") as reader:
        t = decode_chunk(next(iter(reader)))
    names = {read_dns_name(t.buf, int(o), int(o) - 12) for o in t.dns_qname_offset[t.is_dns]}
    assert "<img src=x onerror=window.__xss_fired=1>.example.com" in names
    assert len(names) == 3 and np.all(t.dns_qtype == 1)
