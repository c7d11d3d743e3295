"""Encapsulations decoded down to the inner TCP/UDP: the packets of a real capture (tests/data, made on netns
veth links) wrapped in each encapsulation with scapy, analysed, and compared with tshark on the same file."""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from scapy.contrib.geneve import GENEVE
from scapy.contrib.gtp import GTP_U_Header
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import GRE, Dot1AD, Dot1Q, Ether
from scapy.layers.ppp import PPP, PPPoE
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw
from scapy.utils import PcapReader, wrpcap

from pcap_analyzer.api import analyze
from pcap_analyzer.report.model import AnalysisResult
from tests.conftest import DATA_DIR

TSHARK = shutil.which("tshark")
INNER_PACKETS = 300
OUTER4 = IP(src="192.0.2.1", dst="192.0.2.2")
OUTER6 = IPv6(src="2001:db8:ffff::1", dst="2001:db8:ffff::2")


def _inner() -> list[Packet]:
    """The first IP packets of a real capture, as Ethernet frames with their timestamps."""
    out = []
    with PcapReader(str(DATA_DIR / "netns_mixed.pcapng")) as r:
        for p in r:
            if Ether in p and (IP in p or IPv6 in p):
                out.append(p)
            if len(out) == INNER_PACKETS:
                break
    return out


def _l3(p: Packet) -> Packet:
    return p[Ether].payload.copy()


def _erspan2(p: Packet) -> bytes:
    erspan = struct.pack("!HHI", 0x1000 | 7, 0x0000 | 100, 0)  # ver 1, vlan 7; session 100; index
    return bytes(GRE(proto=0x88BE, seqnum_present=1, sequence_number=1)) + erspan + bytes(p[Ether])


def _erspan3(p: Packet) -> bytes:
    hdr = struct.pack("!HHII", 0x2000 | 7, 100, 123456, 0x0001)  # ver 2; session; timestamp; O flag set
    sub = bytes(8)  # platform-specific subheader
    return bytes(GRE(proto=0x22EB, seqnum_present=1, sequence_number=1)) + hdr + sub + bytes(p[Ether])


def _fabricpath(p: Packet) -> bytes:
    """Cisco FabricPath: hierarchical MACs, EtherType 0x8903, FTAG/TTL, the whole inner frame, then the FCS
    of the FabricPath frame (zeros: tshark does not check it by default)."""
    return bytes.fromhex("020000000a01 020000000a02 8903 0401") + bytes(p[Ether]) + bytes(4)


def _capwap(p: Packet, native_80211: bool) -> bytes:
    """CAPWAP data (RFC 5415): HLEN 4 words with 4 bytes of wireless information, then an 802.3 frame or an
    802.11 data frame (To DS) whose frame-control bytes are swapped, as Cisco controllers send them."""
    if not native_80211:
        return bytes.fromhex("00 100200 0000 0000") + bytes(p[Ether])
    wlan = (
        bytes.fromhex("0108 2c00")  # flags 0x01 (To DS), frame control 0x08 (data), swapped; duration
        + bytes.fromhex("020000000b01 020000000b02 020000000b03 0000")  # BSSID, source, destination, seq
        + bytes.fromhex("aaaa03000000") + (b"\x08\x00" if IP in p else b"\x86\xdd")  # LLC/SNAP
    )
    return bytes.fromhex("00 200320 0000 0000 04bf2300 00000000") + wlan + bytes(_l3(p))


def _capwap_frame(p: Packet, native_80211: bool) -> Packet:
    return (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / OUTER4
        / UDP(sport=41264, dport=5247)
        / Raw(_capwap(p, native_80211))
    )


WRAPS: dict[str, Callable[[Packet], Packet]] = {
    "fabricpath": lambda p: Ether(_fabricpath(p)),
    "capwap_8023": lambda p: _capwap_frame(p, native_80211=False),
    "capwap_80211": lambda p: _capwap_frame(p, native_80211=True),
    "qinq": lambda p: (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1AD(vlan=100) / Dot1Q(vlan=200) / _l3(p)
    ),
    "mpls": lambda p: (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / MPLS(label=100, s=0)
        / MPLS(label=200, s=1)
        / _l3(p)
    ),
    "pppoe": lambda p: (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x8864)
        / PPPoE(sessionid=7)
        / PPP(proto=0x21 if IP in p else 0x57)
        / _l3(p)
    ),
    "gre": lambda p: (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / OUTER4
        / GRE(key_present=1, key=42, seqnum_present=1, sequence_number=3)
        / _l3(p)
    ),
    "gretap": lambda p: (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / OUTER4 / GRE(proto=0x6558) / p[Ether].copy()
    ),
    "erspan2": lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / OUTER4 / Raw(_erspan2(p)),
    "erspan3": lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / OUTER4 / Raw(_erspan3(p)),
    "vxlan": lambda p: (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / OUTER4
        / UDP(sport=49152, dport=4789)
        / VXLAN(vni=5)
        / p[Ether].copy()
    ),
    "geneve": lambda p: (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / OUTER4
        / UDP(sport=49152, dport=6081)
        / GENEVE(proto=0x6558)
        / p[Ether].copy()
    ),
    "gtpu": lambda p: (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / OUTER4
        / UDP(sport=2152, dport=2152)
        / GTP_U_Header(teid=9)
        / _l3(p)
    ),
    "ipip_6in4": lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / OUTER4 / _l3(p),
    "ipip_4in6": lambda p: Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / OUTER6 / _l3(p),
}


def _write(path: Path, name: str) -> Path:
    frames = []
    for p in _inner():
        f = WRAPS[name](p)
        if Raw in f and name.startswith("erspan"):  # scapy cannot infer the outer protocol of raw bytes
            f[IP].proto = 47
        f.time = p.time
        frames.append(f)
    wrpcap(str(path), frames)
    return path


def _tshark_counts(path: Path) -> dict[str, int]:
    def count(display_filter: str) -> int:
        out = subprocess.run(
            [
                TSHARK or "tshark",
                "-r",
                str(path),
                "-2",
                "-Y",
                display_filter,
                "-T",
                "fields",
                "-e",
                "frame.number",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return len(out.split())

    streams = subprocess.run(
        [TSHARK or "tshark", "-r", str(path), "-2", "-T", "fields", "-e", "tcp.stream"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        "conversations": len(set(streams)),
        "syn": count("tcp.flags.syn == 1 && tcp.flags.ack == 0"),
        "retransmissions": count("tcp.analysis.retransmission"),
        "duplicate_acks": count("tcp.analysis.duplicate_ack"),
        "lost_segments": count("tcp.analysis.lost_segment"),
        "dns_queries": count("dns.flags.response == 0"),
    }


def analysed_as_tshark(path: Path) -> AnalysisResult:
    """Analyse `path`, require tshark's counts on it, all of it analysed; returns the result."""
    want = _tshark_counts(path)
    r = analyze(path)
    got = {
        "conversations": r.tcp.conversations,
        "syn": r.tcp.syn,
        "retransmissions": r.tcp.retransmissions,
        "duplicate_acks": r.tcp.duplicate_acks,
        "lost_segments": r.tcp.lost_segments,
        "dns_queries": r.dns.queries,
    }
    assert got == want
    assert want["conversations"] > 0 and want["syn"] > 0
    assert r.capture.not_analysed_packets == 0
    return r


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
@pytest.mark.parametrize("name", sorted(WRAPS))
def test_encapsulated_capture_analysed_as_tshark(tmp_path: Path, name: str) -> None:
    r = analysed_as_tshark(_write(tmp_path / f"{name}.pcap", name))
    # flows use the inner addresses
    assert not [
        c for c in r.connections if c.client.startswith("192.0.2.") or c.client.startswith("2001:db8:ffff")
    ]


def _bulk_transfer(segments: int, size: int) -> list[Packet]:
    """A TCP connection that sends `segments` full segments of `size` bytes, each acknowledged, no loss."""
    c, s = IP(src="10.0.0.1", dst="10.0.0.2"), IP(src="10.0.0.2", dst="10.0.0.1")
    out = [
        c / TCP(sport=40000, dport=80, flags="S", seq=1000),
        s / TCP(sport=80, dport=40000, flags="SA", seq=5000, ack=1001),
    ]
    out.append(c / TCP(sport=40000, dport=80, flags="A", seq=1001, ack=5001))
    for k in range(segments):
        seq = 1001 + k * size
        out.append(c / TCP(sport=40000, dport=80, flags="PA", seq=seq, ack=5001) / Raw(bytes(size)))
        out.append(s / TCP(sport=80, dport=40000, flags="A", seq=5001, ack=seq + size))
    return out


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tunnel_in_fragmented_outer_datagrams_counts_whole_inner_segments(tmp_path: Path) -> None:
    """GTP-U whose outer UDP datagrams are cut into IP fragments (as on a path with a small MTU): the first
    fragment holds the inner IP/TCP headers, later fragments the rest. Like tshark, which reassembles, the
    inner segment counts at its full length, so no segment looks lost (none was, by construction)."""
    path = tmp_path / "gtpu_fragmented.pcap"
    frames = []
    for k, inner in enumerate(_bulk_transfer(segments=20, size=1400)):
        outer = OUTER4 / UDP(sport=2152, dport=2152) / GTP_U_Header(teid=9) / inner
        for piece in fragment(IP(bytes(outer)), fragsize=1024):
            f = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / piece
            f.time = 1_700_000_000 + k * 0.001
            frames.append(f)
    assert len(frames) > 50  # the data segments were fragmented
    wrpcap(str(path), frames)
    want = _tshark_counts(path)
    r = analyze(path)
    assert want["conversations"] == 1 and want["lost_segments"] == 0 and want["retransmissions"] == 0
    assert (r.tcp.conversations, r.tcp.lost_segments, r.tcp.retransmissions) == (1, 0, 0)
    assert r.tcp.payload_bytes == 20 * 1400


def _nflog(p: Packet) -> bytes:
    payload = bytes(_l3(p))
    tlv_prefix = struct.pack("<HH", 8, 1) + b"\x08\x00\x01\x00"  # NFULA_PACKET_HDR (hw proto, hook)
    pad = (-len(payload)) % 4
    tlv_payload = struct.pack("<HH", 4 + len(payload), 9) + payload + bytes(pad)
    family = 2 if IP in p else 10
    return bytes([family, 0]) + b"\x00\x00" + tlv_prefix + tlv_payload


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_nflog_capture_analysed_as_tshark(tmp_path: Path) -> None:
    path = tmp_path / "nflog.pcap"
    frames = []
    for p in _inner():
        f = Raw(_nflog(p))
        f.time = p.time
        frames.append(f)
    wrpcap(str(path), frames, linktype=239)
    want = _tshark_counts(path)
    r = analyze(path)
    assert r.capture.link_types == ["NFLOG"]
    assert (r.tcp.conversations, r.tcp.syn, r.tcp.retransmissions, r.dns.queries) == (
        want["conversations"],
        want["syn"],
        want["retransmissions"],
        want["dns_queries"],
    )
    assert want["syn"] > 0 and r.capture.not_analysed_packets == 0


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_pppoe_length_bounds_the_ip_datagram_as_tshark(tmp_path: Path) -> None:
    """A PPPoE length shorter than the IP total length it carries: tshark hands IP only the PPPoE payload,
    so the segment is shorter than its IP header says; the counts must agree with tshark's (here the data
    segments lose 6 bytes each, so the receiver's ACKs acknowledge bytes the capture never showed)."""
    path = tmp_path / "pppoe_short.pcap"
    frames = []
    for p in _bulk_transfer(segments=10, size=200):
        ip = bytes(p)
        short = 6 if p[TCP].payload else 0
        f = (
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", type=0x8864)
            / PPPoE(sessionid=7, len=2 + len(ip) - short)
            / PPP(proto=0x21)
            / Raw(ip)
        )
        f.time = 1_700_000_000 + len(frames) * 0.001
        frames.append(f)
    wrpcap(str(path), frames)
    want = _tshark_counts(path)
    r = analyze(path)
    assert want["lost_segments"] > 0  # the shortened segments leave holes tshark reports
    got = {"conversations": r.tcp.conversations, "syn": r.tcp.syn, "retransmissions": r.tcp.retransmissions,
           "duplicate_acks": r.tcp.duplicate_acks, "lost_segments": r.tcp.lost_segments, "dns_queries": 0}
    assert got == want
    assert r.tcp.payload_bytes == 10 * (200 - 6)


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_tcp_header_longer_than_its_datagram_is_malformed_as_tshark(tmp_path: Path) -> None:
    """SYNs whose IP datagram ends inside the TCP header (tshark's "short segment"): the flags still count
    and the connection is still one tcp.stream, but, malformed, they take no part in the sequence analysis
    (each SYN is repeated: the repeats are not retransmissions for tshark)."""
    path = tmp_path / "short_header.pcap"
    frames = []
    for k in range(4):
        syn = IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000 + k, dport=80, flags="S", seq=1000)
        whole = bytes(syn)
        cut = IP(whole[:36])  # 16 of the 20 header bytes: ports, numbers, flags, window
        cut.len = 36
        for f in (Ether() / IP(whole), Ether() / cut):
            f.time = 1_700_000_000 + len(frames) * 0.001
            frames.append(f)
    wrpcap(str(path), frames)
    want = _tshark_counts(path)
    r = analyze(path)
    assert want["syn"] == 8 and want["retransmissions"] == 0 and want["conversations"] == 4
    assert (r.tcp.syn, r.tcp.retransmissions, r.tcp.conversations) == (8, 0, 4)
