"""IPv4 (options, fragments) and IPv6 (extension-header chain, fragment header)."""

from __future__ import annotations

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR, fragment
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import Ether

from pcap_analyzer.decode.packets import FRAG_IS_FRAGMENT, FRAG_MORE, Undecoded
from tests.engine.decode.chunks import decode, v4


def test_ipv4_options_are_skipped_by_ihl() -> None:
    pkt = (
        Ether()
        / IP(src="1.2.3.4", dst="5.6.7.8", ttl=9, options=[IPOption_RR(routers=["0.0.0.0"] * 3)])
        / UDP(sport=1000, dport=2000)
        / (b"p" * 30)
    )
    pkt = Ether(bytes(pkt))
    t = decode([pkt])
    ihl = pkt[IP].ihl * 4
    assert ihl > 20
    assert t.undecoded[0] == Undecoded.OK and t.l4_offset[0] == 14 + ihl
    assert (t.src_lo[0], t.dst_lo[0], t.ttl[0], t.ip_proto[0]) == (v4("1.2.3.4"), v4("5.6.7.8"), 9, 17)
    assert (t.sport[0], t.dport[0], t.payload_len[0], t.ip_len[0]) == (1000, 2000, 30, ihl + 8 + 30)


def test_ipv4_fragments_first_and_non_first() -> None:
    dgram = IP(src="10.0.0.1", dst="10.0.0.2", id=4321) / UDP(sport=53, dport=3333) / (b"z" * 100)
    frags = fragment(dgram, fragsize=48)
    assert len(frags) == 3
    t = decode([Ether() / f for f in frags])
    assert list(t.frag) == [FRAG_IS_FRAGMENT | FRAG_MORE, FRAG_IS_FRAGMENT | FRAG_MORE, FRAG_IS_FRAGMENT]
    assert list(t.frag_offset) == [0, 48, 96]
    assert list(t.ip_id) == [4321] * 3
    assert list(t.undecoded) == [Undecoded.OK, Undecoded.NON_FIRST_FRAGMENT, Undecoded.NON_FIRST_FRAGMENT]
    assert (t.sport[0], t.dport[0], t.payload_len[0]) == (53, 3333, 100)  # UDP length covers the datagram
    assert list(t.l4_offset[1:]) == [0, 0] and list(t.sport[1:]) == [0, 0] and list(t.ip_proto) == [17] * 3


def test_ipv6_extension_chain_with_fragment_header() -> None:
    pkt = (
        Ether()
        / IPv6(src="2001:db8::a", dst="2001:db8::b")
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrRouting(addresses=["2001:db8::c"])
        / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrFragment(id=0xABCDEF, offset=0, m=1)
        / TCP(sport=7, dport=8, flags="S")
    )
    pkt = Ether(bytes(pkt))
    t = decode([pkt])
    ext = len(pkt[IPv6].payload) - len(pkt[TCP])
    assert t.undecoded[0] == Undecoded.OK and t.ip_proto[0] == 6
    assert t.l4_offset[0] == 14 + 40 + ext
    assert (t.frag[0], t.ip_id[0], t.frag_offset[0]) == (FRAG_IS_FRAGMENT | FRAG_MORE, 0xABCDEF, 0)
    assert (t.sport[0], t.dport[0]) == (7, 8)
    later = Ether() / IPv6() / IPv6ExtHdrFragment(id=5, offset=10, m=0, nh=6) / (b"q" * 16)
    t = decode([later])
    assert t.undecoded[0] == Undecoded.NON_FIRST_FRAGMENT and t.frag_offset[0] == 80 and t.ip_proto[0] == 6
    assert t.l4_offset[0] == 0


def test_icmp_and_icmpv6_type_code() -> None:
    t = decode([Ether() / IP() / ICMP(type=3, code=3), Ether() / IPv6() / ICMPv6EchoRequest()])
    assert list(t.icmp_type) == [3, 128] and list(t.icmp_code) == [3, 0]
    assert list(t.ip_proto) == [1, 58] and list(t.undecoded) == [0, 0]


def test_other_ip_protocol() -> None:
    t = decode([Ether() / IP(proto=47) / (b"\0" * 8)])  # GRE
    assert t.undecoded[0] == Undecoded.OTHER_L4 and t.ip_proto[0] == 47 and t.l4_offset[0] == 0
