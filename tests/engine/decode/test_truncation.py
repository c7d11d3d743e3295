"""Truncated is not malformed: a cut packet keeps its outer layers; malformed headers never crash."""

from __future__ import annotations

import numpy as np
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Dot1Q, Ether

from pcap_analyzer.decode.packets import L3, Undecoded
from tests.engine.decode.chunks import decode, v4

PKT = (
    Ether()
    / Dot1Q(vlan=3)
    / IP(src="10.0.0.1", dst="10.0.0.2")
    / TCP(sport=1, dport=2, options=[("MSS", 1400)])
    / (b"d" * 100)
)


def test_cut_at_every_layer_boundary() -> None:
    eth, tag, ip = 14, 4, 20
    cuts = [
        0,
        10,
        eth,
        eth + 2,
        eth + tag,
        eth + tag + 10,
        eth + tag + ip,
        eth + tag + ip + 3,
        eth + tag + ip + 10,
        eth + tag + ip + 20,
        eth + tag + ip + 22,
        eth + tag + ip + 24,
    ]
    t = decode([PKT] * len(cuts), caplens=cuts)
    U = Undecoded
    assert list(t.undecoded) == [
        U.TRUNCATED_LINK,
        U.TRUNCATED_LINK,
        U.TRUNCATED_LINK,
        U.TRUNCATED_LINK,
        U.TRUNCATED_IP,
        U.TRUNCATED_IP,
        U.TRUNCATED_L4,
        U.TRUNCATED_L4,
        U.TRUNCATED_L4,
        U.OK,
        U.OK,
        U.OK,
    ]
    assert list(t.vlan[4:]) == [3] * (len(cuts) - 4)
    assert list(t.l3[4:]) == [L3.IPV4] * (len(cuts) - 4)
    assert np.all(t.src_lo[6:] == v4("10.0.0.1")) and np.all(t.src_lo[:6] == 0)
    assert list(t.ip_len[:6]) == [0] * 6  # no fixed IP header, no addresses
    assert list(t.sport[6:]) == [0, 0, 1, 1, 1, 1]  # ports as soon as they are captured
    # the TCP header is there, its options cut: fields kept, MSS only when the option is whole
    assert list(t.payload_len[9:]) == [100, 100, 100] and list(t.mss[9:]) == [0, 0, 1400]
    assert np.all(t.wirelen == len(PKT))


def test_ipv6_extension_header_cut() -> None:
    pkt = Ether() / IPv6() / IPv6ExtHdrHopByHop() / UDP()
    t = decode([pkt], caplens=[14 + 40 + 4])
    assert t.undecoded[0] == Undecoded.TRUNCATED_IP and t.l3[0] == L3.IPV6 and t.ip_len[0] > 0


def test_malformed_headers_do_not_crash() -> None:
    tcp = bytearray(bytes(Ether() / IP() / TCP()))
    tcp[14 + 20 + 12] = 0x30  # data offset 3
    ihl = bytearray(bytes(Ether() / IP() / UDP()))
    ihl[14] = 0x43  # IHL 3
    bad6 = bytearray(bytes(Ether() / IPv6() / UDP()))
    bad6[14] = 0x45  # version 4 inside an IPv6 EtherType
    short_len = bytearray(bytes(Ether() / IP() / UDP()))
    short_len[14 + 2 : 14 + 4] = b"\x00\x10"  # total length 16 < IHL
    bad_opts = bytes(Ether() / IP() / TCP(options=[("NOP", None)] * 4 + [("MSS", 1)])).replace(
        b"\x02\x04\x00\x01", b"\x02\x00\xff\xff"
    )  # option length 0
    t = decode([bytes(tcp), bytes(ihl), bytes(bad6), bytes(short_len), bad_opts, b"\x45" * 3, b""])
    U = Undecoded
    assert list(t.undecoded) == [
        U.BAD_L4_HEADER,
        U.BAD_IP_HEADER,
        U.BAD_IP_HEADER,
        U.BAD_IP_HEADER,
        U.OK,
        U.TRUNCATED_LINK,
        U.TRUNCATED_LINK,
    ]
    assert t.tcp_hdr_len[0] == 12 and t.sport[0] == 20 and t.payload_len[0] == 0
    assert t.mss[4] == 0


def test_random_bytes_never_crash() -> None:
    rng = np.random.default_rng(7)
    pkts = [bytes(rng.integers(0, 256, int(rng.integers(0, 120)), dtype=np.uint8)) for _ in range(2000)]
    for linktype in (0, 1, 101, 113, 276, 229):
        t = decode(pkts, linktype=linktype)
        assert len(t) == 2000
        assert np.all(t.l4_offset <= t.caplen)


def test_empty_chunk_and_caplen_beyond_buffer() -> None:
    from pcap_analyzer.decode import decode_chunk
    from tests.engine.decode.chunks import chunk_of

    assert len(decode([])) == 0
    chunk = chunk_of([PKT])
    chunk.caplen[:] = 10_000  # a reader bug must not make the decoder read past its buffer
    t = decode_chunk(chunk)
    assert t.undecoded[0] == Undecoded.OK and t.payload_len[0] == 100
