"""What the engine could not analyse: packets grouped by link type, the protocol decoding stopped at, and why.

A packet counts as not analysed when the decoder did not reach an IP header it could read (unsupported link
type, a non-IP EtherType such as MPLS or PPPoE, a cut link header, a bad or cut fixed IP header) or stopped at
an IP protocol it does not decode (GRE, ESP, IP-in-IP, ...). ARP is counted in the protocol hierarchy and not
listed here. Fragments, cut transport headers and bad TCP headers are not in this count: their IP layer was
analysed (`capture.undecoded` has every reason).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcap_analyzer.capture.linktypes import linktype_name
from pcap_analyzer.decode.packets import PacketTable, Undecoded

# EtherTypes met on real links (IEEE registry), named as Wireshark does.
ETHERTYPE_NAMES: dict[int, str] = {
    0x0000: "802.3/LLC",  # a length, not an EtherType: LLC/SNAP follows (STP, CDP, ...)
    # pseudo EtherTypes below 0x0600 for 802.11 frames with no IP to analyse (pcap_analyzer.decode.link)
    0x0001: "802.11 management",
    0x0002: "802.11 control",
    0x0003: "802.11 encrypted data",
    0x0004: "802.11 null data",
    0x0806: "ARP",
    0x8035: "RARP",
    0x809B: "AppleTalk",
    0x8137: "IPX",
    0x8808: "Ethernet flow control",
    0x8809: "Slow protocols (LACP)",
    0x8847: "MPLS",
    0x8848: "MPLS multicast",
    0x8863: "PPPoE discovery",
    0x8864: "PPPoE session",
    0x886D: "Intel ANS",
    0x888E: "802.1X (EAPOL)",
    0x8892: "PROFINET",
    0x88A4: "EtherCAT",
    0x88B5: "Local experimental",
    0x88BB: "LWAPP",
    0x88CC: "LLDP",
    0x88E5: "MACsec",
    0x88E7: "PBB",
    0x88F7: "PTP",
    0x8902: "CFM",
    0x8906: "FCoE",
    0x8914: "FIP",
    0x893A: "IEEE 1905.1",
    0x9000: "Loopback",
}

# IP protocol numbers (IANA registry) the decoder stops at.
IP_PROTO_NAMES: dict[int, str] = {
    0: "IPv6 hop-by-hop",
    2: "IGMP",
    4: "IPv4-in-IP",
    8: "EGP",
    9: "IGP",
    41: "IPv6-in-IP",
    46: "RSVP",
    47: "GRE",
    50: "ESP",
    51: "AH",
    59: "IPv6 no next header",
    88: "EIGRP",
    89: "OSPF",
    97: "EtherIP",
    103: "PIM",
    112: "VRRP",
    115: "L2TP",
    132: "SCTP",
    137: "MPLS-in-IP",
}

# Reasons that leave a packet out of the analysis (see the module docstring).
NOT_ANALYSED = (
    Undecoded.UNSUPPORTED_LINKTYPE,
    Undecoded.TRUNCATED_LINK,
    Undecoded.NON_IP,
    Undecoded.BAD_IP_HEADER,
    Undecoded.TRUNCATED_IP,
    Undecoded.OTHER_L4,
)
ETHERTYPE_ARP = 0x0806


@dataclass(frozen=True, slots=True)
class NotAnalysedGroup:
    """Packets of one (link type, protocol, reason) that were not analysed."""

    link_type: str
    protocol: str
    reason: str
    packets: int
    bytes: int


def protocol_name(reason: int, next_header: int, linktype: int) -> str:
    """Name of what decoding stopped at, e.g. "MPLS", "GRE", "IEEE802_11_RADIOTAP" or "IP header"."""
    if reason == Undecoded.NON_IP:
        return ETHERTYPE_NAMES.get(next_header, f"EtherType 0x{next_header:04x}")
    if reason == Undecoded.OTHER_L4:
        return IP_PROTO_NAMES.get(next_header, f"IP protocol {next_header}")
    if reason == Undecoded.TRUNCATED_LINK:
        return f"{linktype_name(linktype)} header"
    if reason in (Undecoded.BAD_IP_HEADER, Undecoded.TRUNCATED_IP):
        return "IP header"
    return linktype_name(linktype)


class Coverage:
    """Running count of the packets not analysed, fed one decoded chunk at a time.

    Example:
        >>> cov = Coverage()
        >>> cov.add(table)
        >>> cov.packets, cov.groups()
    """

    def __init__(self) -> None:
        self._counts: dict[
            tuple[int, int, int], list[int]
        ] = {}  # (linktype, reason, next) -> [packets, bytes]
        self.packets = 0

    def add(self, t: PacketTable) -> None:
        """Count the packets of `t` that were not analysed."""
        u = t.undecoded
        mask = np.isin(u, NOT_ANALYSED)
        if not mask.any():
            return
        # A cut IPv4 options field / IPv6 extension chain still had its fixed header decoded (ip_len > 0).
        mask &= ~((u == Undecoded.TRUNCATED_IP) & (t.ip_len > 0))
        mask &= ~((u == Undecoded.NON_IP) & (t.next_header == ETHERTYPE_ARP))
        if not mask.any():
            return
        key = (
            (t.linktype[mask].astype(np.int64) << 24)
            | (u[mask].astype(np.int64) << 16)
            | t.next_header[mask].astype(np.int64)
        )
        keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        sizes = np.bincount(inverse, weights=t.wirelen[mask].astype(np.float64), minlength=len(keys))
        for k, n, b in zip(keys.tolist(), counts.tolist(), sizes.tolist(), strict=True):
            slot = self._counts.setdefault((k >> 24, (k >> 16) & 0xFF, k & 0xFFFF), [0, 0])
            slot[0] += n
            slot[1] += int(b)
        self.packets += int(mask.sum())

    def groups(self) -> list[NotAnalysedGroup]:
        """The groups, most packets first."""
        out = [
            NotAnalysedGroup(
                link_type=linktype_name(lt),
                protocol=protocol_name(reason, nxt, lt),
                reason=Undecoded(reason).name.lower(),
                packets=n,
                bytes=b,
            )
            for (lt, reason, nxt), (n, b) in self._counts.items()
        ]
        out.sort(key=lambda g: (-g.packets, g.link_type, g.protocol, g.reason))
        return out
