"""Link layers: Ethernet + VLAN stacks and LLC/SNAP, Linux SLL/SLL2, BSD null/loop, raw IP, NFLOG, FDDI, Cisco
HDLC, IEEE 802.11 (bare, radiotap, PPI); finds the network layer."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.decode.codes import (
    BAD_IP_HEADER,
    L3_ARP,
    L3_IPV4,
    L3_IPV6,
    L3_NONE,
    L3_OTHER,
    NON_IP,
    OK,
    TRUNCATED_IP,
    TRUNCATED_LINK,
    UNSUPPORTED_LINKTYPE,
)
from pcap_analyzer.decode.encap import (
    ENCAP_ETHERNET,
    ENCAP_FABRICPATH,
    ENCAP_LLC,
    ENCAP_MPLS,
    ENCAP_PPPOE,
    ENCAP_QINQ,
    ENCAP_VLAN,
    LAYER_BITS,
)
from pcap_analyzer.decode.fields import Header, be16, be32, le32
from pcap_analyzer.jit import kernel

# LINKTYPE_* values (https://www.tcpdump.org/linktypes.html)
LINKTYPE_NULL = 0  # BSD loopback, AF in host byte order
LINKTYPE_ETHERNET = 1
DLT_RAW_12 = 12  # DLT_RAW on most platforms
DLT_RAW_14 = 14  # DLT_RAW on OpenBSD
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108  # OpenBSD loopback, AF in network byte order
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_NFLOG = 239
LINKTYPE_LINUX_SLL2 = 276
LINKTYPE_FDDI = 10
LINKTYPE_C_HDLC = 104  # Cisco HDLC: address, control, then an EtherType
LINKTYPE_IEEE802_11 = 105
LINKTYPE_IEEE802_11_RADIOTAP = 127
LINKTYPE_PPI = 192

# EtherTypes (IEEE 802 numbers)
ETHERTYPE_IP = 0x0800  # RFC 894
ETHERTYPE_ARP = 0x0806  # RFC 826
ETHERTYPE_IPV6 = 0x86DD  # RFC 2464
ETHERTYPE_VLAN = 0x8100  # IEEE 802.1Q
ETHERTYPE_QINQ = 0x88A8  # IEEE 802.1ad service tag
ETHERTYPE_QINQ_OLD = 0x9100  # pre-standard QinQ
ETHERTYPE_MPLS = 0x8847  # RFC 3032
ETHERTYPE_MPLS_MULTICAST = 0x8848  # RFC 5332
ETHERTYPE_PPPOE_SESSION = 0x8864  # RFC 2516
ETHERTYPE_FABRICPATH = 0x8903  # Cisco FabricPath (DCE): FTAG/TTL, then the whole inner Ethernet frame
ETHERTYPE_MIN = 0x0600  # values below are 802.3 lengths (IEEE 802.3 3.2.6)

# BSD address families found in null/loop headers
BSD_AF_INET = 2
BSD_AF_INET6_BSD = 24  # NetBSD, OpenBSD
BSD_AF_INET6_FREEBSD = 28
BSD_AF_INET6_DARWIN = 30
LINUX_AF_INET6 = 10  # NFLOG's family byte

MPLS_LABEL_LEN = 4  # label (20 bits), traffic class (3), bottom of stack (1), TTL (8)
MPLS_BOTTOM_OF_STACK = 0x01  # in the third byte of a label entry
MAX_MPLS_LABELS = 16
PPPOE_LEN = 6  # version/type, code, session id, length (RFC 2516 4)
PPPOE_LENGTH = 4  # offset of the payload length (PPP protocol field included)
FABRICPATH_TAG_LEN = 2  # FTAG (10 bits) and TTL (6 bits) after the outer EtherType
FCS_LEN = 4
PPP_PROTO_LEN = 2
PPP_IP = 0x0021  # RFC 1332
PPP_IPV6 = 0x0057  # RFC 5072
NFLOG_HDR_LEN = 4  # family, version, resource id (big-endian)
NFLOG_TLV_LEN = 4  # length, type (host byte order)
NFULA_PAYLOAD = 9
NLA_TYPE_MASK = 0x3FFF  # without the netlink nested / byte-order flags

# IEEE 802.2 LLC with a SNAP header: DSAP 0xAA, SSAP 0xAA, control 0x03 (UI), 3-byte OUI, EtherType
LLC_SNAP_SAP = 0xAA
LLC_UI = 0x03
LLC_SNAP_LEN = 8
FDDI_LEN = 13  # frame control, destination, source
C_HDLC_LEN = 4  # address, control, protocol (an EtherType)
# IEEE 802.11 MAC header (802.11-2020 9.2): frame control, duration, three addresses, sequence control;
# a fourth address in WDS frames (To DS and From DS), QoS control in QoS data, HT control when Order is set.
WLAN_LEN = 24
WLAN_ADDR4_LEN = 6
WLAN_QOS_LEN = 2
WLAN_HT_LEN = 4
WLAN_TYPE_DATA = 2
WLAN_FLAG_TO_FROM_DS = 0x03
WLAN_FLAG_PROTECTED = 0x40
WLAN_FLAG_ORDER = 0x80
RADIOTAP_MIN = 8  # version, pad, length (little-endian), present flags
PPI_MIN = 8  # version, flags, length (little-endian), link type (little-endian, 4 bytes)
# What 802.11 decoding stopped at, reported as pseudo EtherTypes below 0x0600 (real EtherTypes never are):
WLAN_MANAGEMENT = 0x0001
WLAN_CONTROL = 0x0002
WLAN_PROTECTED = 0x0003  # encrypted data frames
WLAN_NO_DATA = 0x0004  # null / QoS null data frames (no payload)

ETH = Header("eth", ("dst", 6), ("src", 6), ("type", 2))
VLAN = Header("vlan", ("tci", 2), ("etype", 2))  # 802.1Q tag after the TPID; id = tci & 0x0FFF
SLL = Header("sll", ("pkttype", 2), ("hatype", 2), ("halen", 2), ("src", 8), ("etype", 2))
SLL2 = Header(
    "sll2",
    ("etype", 2),
    ("reserved", 2),
    ("ifindex", 4),
    ("hatype", 2),
    ("pkttype", 1),
    ("halen", 1),
    ("src", 8),
)
NULL = Header("null", ("family", 4))

ETH_TYPE = ETH.offset("type")
SLL_ETYPE = SLL.offset("etype")
SLL2_ETYPE = SLL2.offset("etype")
MAX_VLAN_TAGS = 8


ETH_LEN = ETH.size
VLAN_LEN = VLAN.size
SLL_LEN = SLL.size
SLL2_LEN = SLL2.size
NULL_LEN = NULL.size


@kernel
def _ethertype_l3(etype: int) -> int:
    if etype == ETHERTYPE_IP:
        return L3_IPV4
    if etype == ETHERTYPE_IPV6:
        return L3_IPV6
    if etype == ETHERTYPE_ARP:
        return L3_ARP
    return L3_OTHER


@kernel
def _af_l3(af: int) -> int:
    if af == BSD_AF_INET:
        return L3_IPV4
    if af == BSD_AF_INET6_BSD or af == BSD_AF_INET6_FREEBSD or af == BSD_AF_INET6_DARWIN:
        return L3_IPV6
    return L3_OTHER


@kernel
def after_ethertype(buf: np.ndarray, p: int, end: int, etype: int) -> tuple[int, int, int, int, int, int]:
    """Walk 802.1Q/802.1ad tags, an MPLS label stack or a PPPoE session header from an EtherType at p-2;
    returns (l3, l3 offset, outer vlan, reason, EtherType decoding stopped at, 0 for an 802.3 length,
    the layers crossed as an ordered code of pcap_analyzer.decode.encap, 0 for none)."""
    vlan = 0
    tagged = False
    layers = 0
    shift = 0
    if etype == ETHERTYPE_FABRICPATH:
        if p + FABRICPATH_TAG_LEN + ETH_LEN > end:
            return L3_NONE, p, vlan, TRUNCATED_LINK, etype, layers
        p += FABRICPATH_TAG_LEN + ETH_LEN
        etype = be16(buf, p - 2)
        layers = ENCAP_FABRICPATH | (ENCAP_ETHERNET << LAYER_BITS)
        shift = 2 * LAYER_BITS
    for _ in range(MAX_VLAN_TAGS):
        if etype != ETHERTYPE_VLAN and etype != ETHERTYPE_QINQ and etype != ETHERTYPE_QINQ_OLD:
            break
        if p + VLAN_LEN > end:
            return L3_NONE, p, vlan, TRUNCATED_LINK, etype, layers
        if not tagged:
            vlan = be16(buf, p) & 0x0FFF
            tagged = True
        layers |= (ENCAP_VLAN if etype == ETHERTYPE_VLAN else ENCAP_QINQ) << shift
        shift += LAYER_BITS
        etype = be16(buf, p + 2)
        p += VLAN_LEN
    if etype == ETHERTYPE_MPLS or etype == ETHERTYPE_MPLS_MULTICAST:
        layers |= ENCAP_MPLS << shift
        bottom = False
        for _ in range(MAX_MPLS_LABELS):
            if p + MPLS_LABEL_LEN > end:
                return L3_NONE, p, vlan, TRUNCATED_LINK, etype, layers
            bottom = (buf[p + 2] & MPLS_BOTTOM_OF_STACK) != 0
            p += MPLS_LABEL_LEN
            if bottom:
                break
        if bottom and p < end:  # no next-protocol field: the IP version nibble tells (RFC 3032 2.2)
            version = buf[p] >> 4
            if version == 4:
                return L3_IPV4, p, vlan, OK, ETHERTYPE_IP, layers
            if version == 6:
                return L3_IPV6, p, vlan, OK, ETHERTYPE_IPV6, layers
        return L3_OTHER, p, vlan, NON_IP, etype, layers
    if etype == ETHERTYPE_PPPOE_SESSION:
        layers |= ENCAP_PPPOE << shift
        if p + PPPOE_LEN + PPP_PROTO_LEN > end:
            return L3_NONE, p, vlan, TRUNCATED_LINK, etype, layers
        ppp = be16(buf, p + PPPOE_LEN)
        p += PPPOE_LEN + PPP_PROTO_LEN
        # OK with the PPPoE EtherType: the caller bounds the datagram by the PPPoE length (`network_bounds`)
        if ppp == PPP_IP:
            return L3_IPV4, p, vlan, OK, ETHERTYPE_PPPOE_SESSION, layers
        if ppp == PPP_IPV6:
            return L3_IPV6, p, vlan, OK, ETHERTYPE_PPPOE_SESSION, layers
        return L3_OTHER, p, vlan, NON_IP, etype, layers
    if etype < ETHERTYPE_MIN:  # an 802.3 length: an LLC header follows, with SNAP it names an EtherType
        snap = _llc_snap(buf, p, end)
        if snap < ETHERTYPE_MIN:
            return L3_OTHER, p, vlan, NON_IP, 0, layers
        return _after_snap(buf, p + LLC_SNAP_LEN, end, snap, vlan, layers | (ENCAP_LLC << shift))
    l3 = _ethertype_l3(etype)
    return l3, p, vlan, OK if l3 == L3_IPV4 or l3 == L3_IPV6 else NON_IP, etype, layers


@kernel
def _is_fabricpath(buf: np.ndarray, start: int, end: int, linktype: int) -> bool:
    """An Ethernet frame carrying Cisco FabricPath: its last 4 bytes are the FCS of the whole frame."""
    if linktype != LINKTYPE_ETHERNET or start + ETH_LEN > end:
        return False
    return be16(buf, start + ETH_TYPE) == ETHERTYPE_FABRICPATH


@kernel
def _pppoe_end(buf: np.ndarray, p: int) -> int:
    """End of a PPPoE session payload whose network layer starts at buf[p] (as tshark, which hands the
    network layer only the PPPoE length's bytes, however long the frame)."""
    return p - PPP_PROTO_LEN + be16(buf, p - PPP_PROTO_LEN - PPPOE_LEN + PPPOE_LENGTH)


@kernel
def network_bounds(
    buf: np.ndarray, start: int, end: int, wire_end: int, linktype: int, p: int, etype: int
) -> tuple[int, int]:
    """(captured end, end on the wire) of the network layer found by `decode_link` at buf[p] with `etype`:
    a PPPoE session's length bounds it, a FabricPath frame's FCS is not part of it (both as tshark)."""
    if etype == ETHERTYPE_PPPOE_SESSION:
        return end, min(wire_end, max(_pppoe_end(buf, p), p))
    if _is_fabricpath(buf, start, end, linktype):
        wire_end = max(wire_end - FCS_LEN, p)
        return min(end, wire_end), wire_end
    return end, wire_end


@kernel
def _llc_snap(buf: np.ndarray, p: int, end: int) -> int:
    """The EtherType of an LLC/SNAP header at buf[p], or 0 when there is none (plain LLC, cut)."""
    if p + LLC_SNAP_LEN > end:
        return 0
    if buf[p] != LLC_SNAP_SAP or buf[p + 1] != LLC_SNAP_SAP or buf[p + 2] != LLC_UI:
        return 0
    return be16(buf, p + 6)


@kernel
def _after_snap(
    buf: np.ndarray, p: int, end: int, etype: int, vlan: int, layers: int
) -> tuple[int, int, int, int, int, int]:
    """The network layer after an LLC/SNAP header (no further VLAN, MPLS or PPPoE walk)."""
    l3 = _ethertype_l3(etype)
    return l3, p, vlan, OK if l3 == L3_IPV4 or l3 == L3_IPV6 else NON_IP, etype, layers


@kernel
def _wlan(buf: np.ndarray, p: int, end: int) -> tuple[int, int, int, int, int, int]:
    """An IEEE 802.11 frame at buf[p]: data frames that are not encrypted reach their LLC/SNAP payload;
    management, control, null-data and protected frames stop with a pseudo EtherType saying which."""
    if p + 2 > end:
        return L3_NONE, p, 0, TRUNCATED_LINK, 0, 0
    return wlan_frame(buf, p, end, np.int64(buf[p]), np.int64(buf[p + 1]))


@kernel
def wlan_frame(
    buf: np.ndarray, p: int, end: int, fc0: int, flags: int
) -> tuple[int, int, int, int, int, int]:
    """`_wlan` with the two frame-control bytes given (CAPWAP from Cisco controllers sends them swapped)."""
    ftype = (fc0 >> 2) & 0x3
    subtype = (fc0 >> 4) & 0xF
    if ftype == 0:
        return L3_OTHER, p, 0, NON_IP, WLAN_MANAGEMENT, 0
    if ftype != WLAN_TYPE_DATA:  # control frames (ACK, RTS, CTS, ...) are shorter than a data header
        return L3_OTHER, p, 0, NON_IP, WLAN_CONTROL, 0
    if p + WLAN_LEN > end:
        return L3_NONE, p, 0, TRUNCATED_LINK, 0, 0
    if subtype & 0x4:  # null data / QoS null: no payload
        return L3_OTHER, p, 0, NON_IP, WLAN_NO_DATA, 0
    if flags & WLAN_FLAG_PROTECTED:
        return L3_OTHER, p, 0, NON_IP, WLAN_PROTECTED, 0
    q = p + WLAN_LEN
    if (flags & WLAN_FLAG_TO_FROM_DS) == WLAN_FLAG_TO_FROM_DS:
        q += WLAN_ADDR4_LEN
    if subtype & 0x8:  # QoS data
        q += WLAN_QOS_LEN
        if flags & WLAN_FLAG_ORDER:
            q += WLAN_HT_LEN
    snap = _llc_snap(buf, q, end)
    if snap < ETHERTYPE_MIN:
        return L3_OTHER, q, 0, NON_IP if q + LLC_SNAP_LEN <= end else TRUNCATED_LINK, 0, 0
    return _after_snap(buf, q + LLC_SNAP_LEN, end, snap, 0, ENCAP_LLC)


@kernel
def after_ethernet(buf: np.ndarray, p: int, end: int) -> tuple[int, int, int, int, int, int]:
    """An Ethernet frame at buf[p] (inside a tunnel): as `after_ethertype`, its layers led by Ethernet's."""
    if p + ETH_LEN > end:
        return L3_NONE, p, 0, TRUNCATED_LINK, 0, ENCAP_ETHERNET
    l3, q, vlan, reason, etype, layers = after_ethertype(buf, p + ETH_LEN, end, be16(buf, p + ETH_TYPE))
    return l3, q, vlan, reason, etype, ENCAP_ETHERNET | (layers << LAYER_BITS)


@kernel
def _nflog(buf: np.ndarray, start: int, end: int) -> tuple[int, int, int, int, int, int]:
    """NFLOG: a 4-byte header (address family first) then TLVs (length and type in host byte order,
    values padded to 4 bytes); the packet is the NFULA_PAYLOAD value."""
    if start + NFLOG_HDR_LEN > end:
        return L3_NONE, start, 0, TRUNCATED_LINK, 0, 0
    family = np.int64(buf[start])
    q = start + NFLOG_HDR_LEN
    while q + NFLOG_TLV_LEN <= end:
        tlv_len = np.int64(buf[q]) | (np.int64(buf[q + 1]) << 8)
        tlv_type = (np.int64(buf[q + 2]) | (np.int64(buf[q + 3]) << 8)) & NLA_TYPE_MASK
        if tlv_len < NFLOG_TLV_LEN:
            break
        if tlv_type == NFULA_PAYLOAD:
            p = q + NFLOG_TLV_LEN
            if family == BSD_AF_INET:
                return L3_IPV4, p, 0, OK, ETHERTYPE_IP, 0
            if family == LINUX_AF_INET6:
                return L3_IPV6, p, 0, OK, ETHERTYPE_IPV6, 0
            return L3_OTHER, p, 0, NON_IP, 0, 0
        q += (tlv_len + 3) & ~3
    return L3_NONE, start, 0, TRUNCATED_LINK, 0, 0


@kernel
def decode_link(buf: np.ndarray, start: int, end: int, linktype: int) -> tuple[int, int, int, int, int, int]:
    """Link header of the packet at buf[start:end]: (l3 class, l3 offset in buf, outer VLAN id, reason,
    EtherType of the network layer when the link has one, else 0, layers crossed after the link header as
    an ordered code of pcap_analyzer.decode.encap: VLAN tags, MPLS, PPPoE, LLC/SNAP)."""
    if linktype == LINKTYPE_ETHERNET:
        if start + ETH_LEN > end:
            return L3_NONE, start, 0, TRUNCATED_LINK, 0, 0
        return after_ethertype(buf, start + ETH_LEN, end, be16(buf, start + ETH_TYPE))
    if linktype == LINKTYPE_LINUX_SLL:
        if start + SLL_LEN > end:
            return L3_NONE, start, 0, TRUNCATED_LINK, 0, 0
        return after_ethertype(buf, start + SLL_LEN, end, be16(buf, start + SLL_ETYPE))
    if linktype == LINKTYPE_LINUX_SLL2:
        if start + SLL2_LEN > end:
            return L3_NONE, start, 0, TRUNCATED_LINK, 0, 0
        return after_ethertype(buf, start + SLL2_LEN, end, be16(buf, start + SLL2_ETYPE))
    if linktype == LINKTYPE_RAW or linktype == DLT_RAW_12 or linktype == DLT_RAW_14:
        if start >= end:
            return L3_NONE, start, 0, TRUNCATED_IP, 0, 0
        version = buf[start] >> 4
        if version == 4:
            return L3_IPV4, start, 0, OK, 0, 0
        if version == 6:
            return L3_IPV6, start, 0, OK, 0, 0
        return L3_NONE, start, 0, BAD_IP_HEADER, 0, 0
    if linktype == LINKTYPE_IPV4:
        return L3_IPV4, start, 0, OK, 0, 0
    if linktype == LINKTYPE_IPV6:
        return L3_IPV6, start, 0, OK, 0, 0
    if linktype == LINKTYPE_NULL or linktype == LINKTYPE_LOOP:
        if start + NULL_LEN > end:
            return L3_NONE, start, 0, TRUNCATED_LINK, 0, 0
        if linktype == LINKTYPE_LOOP:
            af = be32(buf, start)
        else:  # host byte order of the capturing machine: accept both
            af = le32(buf, start)
            if af > 0xFFFF:
                af = be32(buf, start)
        l3 = _af_l3(af)
        return l3, start + NULL_LEN, 0, OK if l3 != L3_OTHER else NON_IP, 0, 0
    if linktype == LINKTYPE_NFLOG:
        return _nflog(buf, start, end)
    if linktype == LINKTYPE_IEEE802_11:
        return _wlan(buf, start, end)
    if linktype == LINKTYPE_IEEE802_11_RADIOTAP:
        if start + RADIOTAP_MIN > end:
            return L3_NONE, start, 0, TRUNCATED_LINK, 0, 0
        return _wlan(buf, start + (np.int64(buf[start + 2]) | (np.int64(buf[start + 3]) << 8)), end)
    if linktype == LINKTYPE_PPI:
        if start + PPI_MIN > end:
            return L3_NONE, start, 0, TRUNCATED_LINK, 0, 0
        inner = le32(buf, start + 4)
        p = start + (np.int64(buf[start + 2]) | (np.int64(buf[start + 3]) << 8))
        if inner == LINKTYPE_IEEE802_11:
            return _wlan(buf, p, end)
        if inner == LINKTYPE_ETHERNET:
            if p + ETH_LEN > end:
                return L3_NONE, p, 0, TRUNCATED_LINK, 0, 0
            return after_ethertype(buf, p + ETH_LEN, end, be16(buf, p + ETH_TYPE))
        return L3_NONE, start, 0, UNSUPPORTED_LINKTYPE, 0, 0
    if linktype == LINKTYPE_FDDI:
        if start + FDDI_LEN > end:
            return L3_NONE, start, 0, TRUNCATED_LINK, 0, 0
        snap = _llc_snap(buf, start + FDDI_LEN, end)
        if snap < ETHERTYPE_MIN:
            return L3_OTHER, start + FDDI_LEN, 0, NON_IP, 0, 0
        return _after_snap(buf, start + FDDI_LEN + LLC_SNAP_LEN, end, snap, 0, ENCAP_LLC)
    if linktype == LINKTYPE_C_HDLC:
        if start + C_HDLC_LEN > end:
            return L3_NONE, start, 0, TRUNCATED_LINK, 0, 0
        return after_ethertype(buf, start + C_HDLC_LEN, end, be16(buf, start + 2))
    return L3_NONE, start, 0, UNSUPPORTED_LINKTYPE, 0, 0
