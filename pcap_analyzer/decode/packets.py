"""PacketTable: the decoded header fields of one chunk, one NumPy column per field."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np
import numpy.typing as npt


class L3(IntEnum):
    """Network-layer class of a packet (`PacketTable.l3`)."""

    NONE = 0  # not decoded down to a network layer (see `undecoded`)
    IPV4 = 1
    IPV6 = 2
    ARP = 3
    OTHER = 4  # an EtherType we recognise but do not decode (LLDP, ...)


class Undecoded(IntEnum):
    """Why a packet was not decoded to its transport layer (`PacketTable.undecoded`, 0 = fully decoded)."""

    OK = 0
    UNSUPPORTED_LINKTYPE = 1
    TRUNCATED_LINK = 2  # caplen shorter than the link header
    NON_IP = 3  # ARP, LLDP, ... (counted, not an error)
    TRUNCATED_IP = 4
    BAD_IP_HEADER = 5  # bad version / IHL / length
    TRUNCATED_L4 = 6  # caplen ends inside the TCP/UDP/ICMP header
    BAD_L4_HEADER = 7  # e.g. TCP data offset < 5
    NON_FIRST_FRAGMENT = 8  # IP fragment with offset > 0: no transport header to decode
    OTHER_L4 = 9  # IP protocol we do not decode (GRE, ESP, ...)
    # First fragment of a datagram taken for reassembly: its transport header is decoded on the frame that
    # completes the datagram (as tshark does), or nowhere when the datagram never completes.
    FIRST_FRAGMENT = 10


# TCP flag bits (`PacketTable.tcp_flags`), as in the TCP header (RFC 9293) plus NS (RFC 3540).
TCP_FIN = 0x001
TCP_SYN = 0x002
TCP_RST = 0x004
TCP_PSH = 0x008
TCP_ACK = 0x010
TCP_URG = 0x020
TCP_ECE = 0x040
TCP_CWR = 0x080
TCP_NS = 0x100

# `PacketTable.frag` bits
FRAG_IS_FRAGMENT = 0x1  # MF set or offset > 0
FRAG_MORE = 0x2  # MF set
FRAG_OUTER = 0x4  # an outer (tunnel) IP header of the packet is a fragment; the other bits are the inner's

MAX_SACK_BLOCKS = 4


@dataclass(slots=True)
class PacketTable:
    """Decoded fields of `n` packets in capture order. Absent fields are 0 unless noted.

    Addresses are 128-bit, as two big-endian uint64 halves; IPv4 is stored IPv4-mapped
    (::ffff:a.b.c.d, so hi == 0 and lo == 0x0000_FFFF_0000_0000 | a.b.c.d).

    After IP reassembly (pcap_analyzer.decode.reassembly), the row of a frame that completed a fragmented
    datagram has the datagram's transport fields, and its `data_offset` / `caplen` describe the reassembled
    IP datagram, appended to `buf` (so `l4_offset` and the payload readers work on it as on any packet).
    """

    frame: npt.NDArray[np.int64]  # 1-based frame number in the capture (Wireshark's frame.number)
    ts_ns: npt.NDArray[np.int64]
    caplen: npt.NDArray[np.uint32]
    wirelen: npt.NDArray[np.uint32]  # frame.len
    linktype: npt.NDArray[np.uint16]
    undecoded: npt.NDArray[np.uint8]  # Undecoded reason, 0 = decoded
    # What decoding stopped at: the EtherType for NON_IP (0 = an 802.3 length, LLC), the IP protocol for
    # OTHER_L4 (ESP, GRE, ...); 0 otherwise.
    next_header: npt.NDArray[np.uint16]
    l3: npt.NDArray[np.uint8]  # L3 class
    vlan: npt.NDArray[np.uint16]  # outermost 802.1Q VLAN id, 0 = untagged
    # Layers crossed between the link header and the network layer `l3` describes (VLAN tags, MPLS, tunnels
    # with their outer IP headers), as an ordered code of pcap_analyzer.decode.encap; 0 = none.
    encap: npt.NDArray[np.int64]
    src_hi: npt.NDArray[np.uint64]
    src_lo: npt.NDArray[np.uint64]
    dst_hi: npt.NDArray[np.uint64]
    dst_lo: npt.NDArray[np.uint64]
    ip_proto: npt.NDArray[np.uint8]  # upper-layer protocol after IPv6 extension headers
    ip_len: npt.NDArray[np.uint32]  # IPv4 total length / 40 + IPv6 payload length, from the header
    ttl: npt.NDArray[np.uint8]  # TTL / hop limit
    ip_id: npt.NDArray[np.uint32]  # IPv4 id, or IPv6 fragment-header identification
    frag: npt.NDArray[np.uint8]  # FRAG_* bits
    frag_offset: npt.NDArray[np.uint32]  # fragment offset in bytes
    l4_offset: npt.NDArray[np.uint32]  # offset of the transport header from the packet start, 0 = none
    sport: npt.NDArray[np.uint16]
    dport: npt.NDArray[np.uint16]
    tcp_flags: npt.NDArray[np.uint16]  # TCP_* bits
    seq: npt.NDArray[np.uint32]  # raw TCP sequence number
    ack: npt.NDArray[np.uint32]  # raw TCP acknowledgment number
    win: npt.NDArray[np.uint16]  # raw (unscaled) TCP window
    tcp_hdr_len: npt.NDArray[np.uint8]  # bytes
    payload_len: npt.NDArray[np.uint32]  # from IP lengths, not caplen (tcp.len / udp.length-8)
    mss: npt.NDArray[np.uint16]  # TCP MSS option, 0 = absent
    wscale: npt.NDArray[np.int8]  # TCP window-scale shift, -1 = absent
    sack_perm: npt.NDArray[np.bool_]
    has_ts: npt.NDArray[np.bool_]
    ts_val: npt.NDArray[np.uint32]
    ts_ecr: npt.NDArray[np.uint32]
    sack_count: npt.NDArray[np.uint8]
    sack_left: npt.NDArray[np.uint32]  # shape (n, MAX_SACK_BLOCKS)
    sack_right: npt.NDArray[np.uint32]  # shape (n, MAX_SACK_BLOCKS)
    icmp_type: npt.NDArray[np.uint8]
    icmp_code: npt.NDArray[np.uint8]
    # UDP (port 53, mDNS 5353, LLMNR 5355, other ports by tshark's heuristic): a DNS header decoded;
    # TCP (53, 5353): the frame completes a DNS message (decode.dns_tcp fills these columns with the first
    # such message)
    is_dns: npt.NDArray[np.bool_]
    dns_id: npt.NDArray[np.uint16]
    dns_flags: npt.NDArray[np.uint16]  # QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE as on the wire
    dns_qdcount: npt.NDArray[np.uint16]
    dns_ancount: npt.NDArray[np.uint16]
    dns_qtype: npt.NDArray[np.uint16]  # first question's QTYPE
    dns_qname_offset: npt.NDArray[np.uint32]  # offset of the first QNAME in `buf`, 0 = none
    buf: npt.NDArray[np.uint8]  # the chunk's bytes, for the few fields decoded lazily (DNS names)
    data_offset: npt.NDArray[np.int64]  # start of each packet in `buf`

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    @classmethod
    def empty(cls, n: int, buf: npt.NDArray[np.uint8] | None = None) -> PacketTable:
        """Allocate a table of `n` packets with every column zeroed (wscale = -1)."""
        columns: dict[str, np.ndarray] = {}
        for f in fields(cls):
            if f.name in ("buf", "data_offset"):
                continue
            dtype = np.dtype(_DTYPES[f.name])
            shape: tuple[int, ...] = (n, MAX_SACK_BLOCKS) if f.name in ("sack_left", "sack_right") else (n,)
            columns[f.name] = np.zeros(shape, dtype=dtype)
        columns["wscale"][:] = -1
        return cls(
            **columns,
            buf=buf if buf is not None else np.zeros(0, np.uint8),
            data_offset=np.zeros(n, np.int64),
        )


_DTYPES: dict[str, str] = {
    "frame": "i8", "ts_ns": "i8", "caplen": "u4", "wirelen": "u4", "linktype": "u2", "undecoded": "u1",
    "next_header": "u2",
    "l3": "u1", "vlan": "u2", "encap": "i8", "src_hi": "u8", "src_lo": "u8", "dst_hi": "u8", "dst_lo": "u8",
    "ip_proto": "u1", "ip_len": "u4", "ttl": "u1", "ip_id": "u4", "frag": "u1", "frag_offset": "u4",
    "l4_offset": "u4", "sport": "u2", "dport": "u2", "tcp_flags": "u2", "seq": "u4", "ack": "u4",
    "win": "u2", "tcp_hdr_len": "u1", "payload_len": "u4", "mss": "u2", "wscale": "i1",
    "sack_perm": "?", "has_ts": "?", "ts_val": "u4", "ts_ecr": "u4", "sack_count": "u1",
    "sack_left": "u4", "sack_right": "u4", "icmp_type": "u1", "icmp_code": "u1", "is_dns": "?",
    "dns_id": "u2", "dns_flags": "u2", "dns_qdcount": "u2", "dns_ancount": "u2", "dns_qtype": "u2",
    "dns_qname_offset": "u4",
}
