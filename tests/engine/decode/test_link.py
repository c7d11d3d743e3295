"""Link layers: every supported link type leads to the same decoded IP/TCP fields."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether

from pcap_analyzer.decode.packets import L3, TCP_ACK, TCP_CWR, TCP_ECE, TCP_NS, TCP_SYN, Undecoded
from tests.engine.decode.chunks import decode, v4, v6

IP4 = IP(src="10.1.2.3", dst="192.0.2.9") / TCP(
    sport=40000, dport=443, flags="A", seq=1000, ack=2000, window=501
)


def _assert_ip4_tcp(t, i: int = 0) -> None:  # noqa: ANN001
    assert t.undecoded[i] == Undecoded.OK
    assert t.l3[i] == L3.IPV4
    assert (t.src_hi[i], t.src_lo[i], t.dst_lo[i]) == (0, v4("10.1.2.3"), v4("192.0.2.9"))
    assert (t.sport[i], t.dport[i], t.seq[i], t.ack[i], t.win[i]) == (40000, 443, 1000, 2000, 501)


def test_vlan_ipv6_tcp_with_every_option() -> None:
    opts = [("MSS", 1440), ("SAckOK", b""), ("Timestamp", (123456, 654321)), ("NOP", None), ("WScale", 9)]
    pkt = (
        Ether()
        / Dot1Q(vlan=42)
        / IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=33)
        / TCP(sport=1, dport=2, flags="SEC", seq=7, options=opts)
        / (b"x" * 10)
    )
    raw = bytearray(bytes(pkt))
    raw[14 + 4 + 40 + 12] |= 0x01  # NS bit
    t = decode([bytes(raw)])
    assert t.vlan[0] == 42 and t.l3[0] == L3.IPV6 and t.undecoded[0] == Undecoded.OK
    assert (t.src_hi[0], t.src_lo[0]) == v6("2001:db8::1") and (t.dst_hi[0], t.dst_lo[0]) == v6("2001:db8::2")
    assert t.ttl[0] == 33 and t.ip_proto[0] == 6 and t.ip_len[0] == 40 + len(pkt[TCP])
    assert t.tcp_flags[0] == TCP_SYN | TCP_ECE | TCP_CWR | TCP_NS
    assert (t.mss[0], t.wscale[0], t.sack_perm[0], t.has_ts[0]) == (1440, 9, True, True)
    assert (t.ts_val[0], t.ts_ecr[0]) == (123456, 654321)
    assert t.tcp_hdr_len[0] == len(pkt[TCP]) - 10 and t.payload_len[0] == 10
    assert t.l4_offset[0] == 14 + 4 + 40


def test_four_sack_blocks() -> None:
    sack = ("SAck", (100, 200, 300, 400, 500, 600, 700, 800))
    t = decode(
        [Ether() / IP(src="10.1.2.3", dst="192.0.2.9") / TCP(options=[("NOP", None), ("NOP", None), sack])]
    )
    assert t.sack_count[0] == 4 and t.tcp_hdr_len[0] == 20 + 36
    assert list(t.sack_left[0]) == [100, 300, 500, 700] and list(t.sack_right[0]) == [200, 400, 600, 800]


def test_qinq_records_outer_vlan() -> None:
    t = decode([Ether() / Dot1AD(vlan=100) / Dot1Q(vlan=200) / IP4, Ether(type=0x9100) / Dot1Q(vlan=5) / IP4])
    assert list(t.vlan) == [100, 5]
    _assert_ip4_tcp(t, 0)
    _assert_ip4_tcp(t, 1)


def test_linux_sll_and_sll2() -> None:
    sll = struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 6 + b"\0\0", 0x0800) + bytes(IP4)
    sll2 = struct.pack("!HHIHBB8s", 0x0800, 0, 3, 1, 0, 6, b"\x02" * 8) + bytes(IP4)
    _assert_ip4_tcp(decode([sll], linktype=113))
    _assert_ip4_tcp(decode([sll2], linktype=276))


@pytest.mark.parametrize("linktype", [101, 12, 14, 228])
def test_raw_ipv4(linktype: int) -> None:
    _assert_ip4_tcp(decode([IP4], linktype=linktype))


@pytest.mark.parametrize("linktype", [101, 229])
def test_raw_ipv6(linktype: int) -> None:
    t = decode([IPv6(src="::1", dst="::2") / UDP(sport=5, dport=6) / b"abc"], linktype=linktype)
    assert t.l3[0] == L3.IPV6 and t.undecoded[0] == Undecoded.OK
    assert (t.sport[0], t.dport[0], t.payload_len[0]) == (5, 6, 3)


@pytest.mark.parametrize(
    ("linktype", "fmt", "af"),
    [
        (0, "<I", 2),
        (0, ">I", 2),
        (108, ">I", 2),
        (0, "<I", 24),
        (0, "<I", 28),
        (0, ">I", 30),
        (108, ">I", 24),
    ],
)
def test_null_and_loop(linktype: int, fmt: str, af: int) -> None:
    inner = IP4 if af == 2 else IPv6(src="::1", dst="::2") / TCP(sport=40000, dport=443)
    t = decode([struct.pack(fmt, af) + bytes(inner)], linktype=linktype)
    assert t.undecoded[0] == Undecoded.OK and t.l3[0] == (L3.IPV4 if af == 2 else L3.IPV6)
    assert (t.sport[0], t.dport[0]) == (40000, 443)


def test_arp_and_unknown_ethertype_are_non_ip() -> None:
    t = decode([Ether() / ARP(), Ether(type=0x88CC) / (b"\0" * 40)])
    assert list(t.l3) == [L3.ARP, L3.OTHER]
    assert list(t.undecoded) == [Undecoded.NON_IP, Undecoded.NON_IP]


def test_unsupported_linktype() -> None:
    t = decode([bytes(IP4)], linktype=6)  # IEEE 802.5 Token Ring
    assert t.undecoded[0] == Undecoded.UNSUPPORTED_LINKTYPE and t.l3[0] == L3.NONE


def test_frame_numbers_are_one_based_over_the_capture() -> None:
    from pcap_analyzer.decode import decode_chunk
    from tests.engine.decode.chunks import chunk_of

    t = decode_chunk(chunk_of([Ether() / IP4] * 3, first_index=10))
    assert list(t.frame) == [11, 12, 13]
    assert t.tcp_flags[0] == TCP_ACK
