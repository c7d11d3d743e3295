"""Tunnels inside IP: GRE (keys, sequence numbers, transparent Ethernet, ERSPAN I/II/III), IP-in-IP (4in4,
6in4, 4in6, 6in6), and the UDP ones on their IANA ports: VXLAN, Geneve, GTP-U, CAPWAP data. Each gives the
offset of the inner network layer, decoded again by the kernel, so flows use the innermost addresses (as
tshark's tcp.stream does)."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.decode.codes import L3_IPV4, L3_IPV6, L3_NONE, OK
from pcap_analyzer.decode.encap import (
    ENCAP_CAPWAP,
    ENCAP_ERSPAN,
    ENCAP_GENEVE,
    ENCAP_GRE,
    ENCAP_GTPU,
    ENCAP_UDP,
    ENCAP_VXLAN,
    ENCAP_WLAN,
    LAYER_BITS,
)
from pcap_analyzer.decode.fields import be16
from pcap_analyzer.decode.link import after_ethernet, after_ethertype, wlan_frame
from pcap_analyzer.jit import kernel

IPPROTO_IPIP = 4  # RFC 2003
IPPROTO_IPV6 = 41  # RFC 4213
IPPROTO_GRE = 47  # RFC 2784

GRE_CHECKSUM = 0x8000  # C: checksum and reserved1 present (RFC 2784)
GRE_ROUTING = 0x4000  # R (RFC 1701): offset present, as with C
GRE_KEY = 0x2000  # K (RFC 2890)
GRE_SEQ = 0x1000  # S (RFC 2890)
GRE_VERSION = 0x0007
GRE_LEN = 4
GRE_TEB = 0x6558  # transparent Ethernet bridging
GRE_ERSPAN = 0x88BE  # ERSPAN type I (no S bit, no header) or type II (8-byte header)
GRE_ERSPAN3 = 0x22EB  # ERSPAN type III (12-byte header, 8 more with the O flag)
ERSPAN2_LEN = 8
ERSPAN3_LEN = 12
ERSPAN3_SUBHEADER_LEN = 8
ERSPAN3_O_FLAG = 0x01  # last byte of the type III header

UDP_HDR = 8
VXLAN_PORT = 4789  # RFC 7348
VXLAN_LEN = 8
VXLAN_I_FLAG = 0x08
GENEVE_PORT = 6081  # RFC 8926
GENEVE_LEN = 8
GTPU_PORT = 2152  # 3GPP TS 29.281
GTPU_LEN = 8
GTPU_OPT_LEN = 4  # sequence number, N-PDU number, next extension type, present when E, S or PN is set
GTPU_G_PDU = 0xFF
MAX_GTP_EXTENSIONS = 8
CAPWAP_DATA_PORT = 5247  # RFC 5415
CAPWAP_MIN = 8  # preamble, HLEN/RID/WBID/flags, fragment id and offset
CAPWAP_T_FLAG = 0x01  # in the header's third byte: payload in the binding's native format, else 802.3
CAPWAP_F_FLAG = 0x80  # fourth byte: a fragment (the inner frame is not whole)
CAPWAP_WBID_80211 = 1


@kernel
def _led_by(
    prefix: int, count: int, inner: tuple[int, int, int, int, int, int]
) -> tuple[int, int, int, int, int, int]:
    """`inner` (a decode result) with `count` layers `prefix` (an ordered code) before its own."""
    l3, p, vlan, reason, etype, layers = inner
    return l3, p, vlan, reason, etype, prefix | (layers << (LAYER_BITS * count))


@kernel
def _ip_by_version(buf: np.ndarray, p: int, end: int) -> tuple[int, int, int, int, int, int]:
    if p >= end:
        return L3_NONE, p, 0, OK, 0, 0
    v = buf[p] >> 4
    if v == 4:
        return L3_IPV4, p, 0, OK, 0, 0
    if v == 6:
        return L3_IPV6, p, 0, OK, 0, 0
    return L3_NONE, p, 0, OK, 0, 0


@kernel
def _gre(buf: np.ndarray, q: int, end: int) -> tuple[int, int, int, int, int, int]:
    if q + GRE_LEN > end:
        return L3_NONE, q, 0, OK, 0, 0
    flags = be16(buf, q)
    ptype = be16(buf, q + 2)
    if flags & GRE_VERSION:  # version 1 is PPTP's enhanced GRE, carrying PPP
        return L3_NONE, q, 0, OK, 0, 0
    p = q + GRE_LEN
    if flags & (GRE_CHECKSUM | GRE_ROUTING):
        p += 4
    if flags & GRE_KEY:
        p += 4
    if flags & GRE_SEQ:
        p += 4
    if ptype == GRE_TEB:
        return _led_by(ENCAP_GRE, 1, after_ethernet(buf, p, end))
    gre_erspan = ENCAP_GRE | (ENCAP_ERSPAN << LAYER_BITS)
    if ptype == GRE_ERSPAN:
        if flags & GRE_SEQ:
            p += ERSPAN2_LEN
        return _led_by(gre_erspan, 2, after_ethernet(buf, p, end))
    if ptype == GRE_ERSPAN3:
        if p + ERSPAN3_LEN > end:
            return L3_NONE, q, 0, OK, 0, 0
        if buf[p + ERSPAN3_LEN - 1] & ERSPAN3_O_FLAG:
            p += ERSPAN3_SUBHEADER_LEN
        return _led_by(gre_erspan, 2, after_ethernet(buf, p + ERSPAN3_LEN, end))
    return _led_by(ENCAP_GRE, 1, after_ethertype(buf, p, end, ptype))


@kernel
def _geneve(buf: np.ndarray, q: int, end: int) -> tuple[int, int, int, int, int, int]:
    if q + GENEVE_LEN > end or (buf[q] >> 6) != 0:
        return L3_NONE, q, 0, OK, 0, 0
    p = q + GENEVE_LEN + (np.int64(buf[q]) & 0x3F) * 4
    ptype = be16(buf, q + 2)
    udp_geneve = ENCAP_UDP | (ENCAP_GENEVE << LAYER_BITS)
    if ptype == GRE_TEB:
        return _led_by(udp_geneve, 2, after_ethernet(buf, p, end))
    return _led_by(udp_geneve, 2, after_ethertype(buf, p, end, ptype))


@kernel
def _gtpu(buf: np.ndarray, q: int, end: int) -> tuple[int, int, int, int, int, int]:
    if q + GTPU_LEN > end:
        return L3_NONE, q, 0, OK, 0, 0
    flags = buf[q]
    if (flags >> 5) != 1 or not (flags & 0x10) or buf[q + 1] != GTPU_G_PDU:
        return L3_NONE, q, 0, OK, 0, 0
    p = q + GTPU_LEN
    if flags & 0x07:
        if p + GTPU_OPT_LEN > end:
            return L3_NONE, q, 0, OK, 0, 0
        nxt = np.int64(buf[p + 3]) if flags & 0x04 else 0
        p += GTPU_OPT_LEN
        for _ in range(MAX_GTP_EXTENSIONS):
            if nxt == 0:
                break
            if p >= end or buf[p] == 0:
                return L3_NONE, q, 0, OK, 0, 0
            size = np.int64(buf[p]) * 4
            if p + size > end:
                return L3_NONE, q, 0, OK, 0, 0
            nxt = np.int64(buf[p + size - 1])
            p += size
    return _led_by(ENCAP_UDP | (ENCAP_GTPU << LAYER_BITS), 2, _ip_by_version(buf, p, end))


@kernel
def _capwap_data(buf: np.ndarray, q: int, end: int) -> tuple[int, int, int, int, int, int]:
    """CAPWAP data channel (RFC 5415 4.3): an 802.3 frame, or an 802.11 frame (native format, binding 1)
    whose frame-control bytes are swapped, as Cisco controllers send them and tshark reads them by default."""
    if q + CAPWAP_MIN > end or buf[q] != 0:  # version 0, type 0 (no DTLS)
        return L3_NONE, q, 0, OK, 0, 0
    word = (np.int64(buf[q + 1]) << 16) | (np.int64(buf[q + 2]) << 8) | np.int64(buf[q + 3])
    hlen = (word >> 19) * 4
    wbid = (word >> 9) & 0x1F
    native = (word >> 8) & CAPWAP_T_FLAG
    p = q + hlen
    if hlen < CAPWAP_MIN or (word & CAPWAP_F_FLAG) or p > end:
        return L3_NONE, q, 0, OK, 0, 0
    udp_capwap = ENCAP_UDP | (ENCAP_CAPWAP << LAYER_BITS)
    if not native:
        return _led_by(udp_capwap, 2, after_ethernet(buf, p, end))
    if wbid != CAPWAP_WBID_80211 or p + 2 > end:
        return L3_NONE, q, 0, OK, 0, 0
    frame = wlan_frame(buf, p, end, np.int64(buf[p + 1]), np.int64(buf[p]))
    return _led_by(udp_capwap | (ENCAP_WLAN << (2 * LAYER_BITS)), 3, frame)


@kernel
def decode_tunnel(buf: np.ndarray, proto: int, l4: int, end: int) -> tuple[int, int, int, int, int, int]:
    """The tunnel, if any, whose header starts at buf[l4] after an IP header of protocol `proto`.

    Returns (l3, inner network-layer offset, outer vlan (ignored), reason, EtherType, layers), as
    decode_link; l3 is L3_NONE when this is not a tunnel we decode (the packet is then analysed as it is).
    `layers` are those from the tunnel's own header on (UDP, VXLAN, Ethernet, ...), not the outer IP.
    """
    if proto == IPPROTO_GRE:
        return _gre(buf, l4, end)
    if proto == IPPROTO_IPIP:
        return L3_IPV4, l4, 0, OK, 0, 0
    if proto == IPPROTO_IPV6:
        return L3_IPV6, l4, 0, OK, 0, 0
    if l4 + UDP_HDR > end:
        return L3_NONE, l4, 0, OK, 0, 0
    sport = be16(buf, l4)
    dport = be16(buf, l4 + 2)
    q = l4 + UDP_HDR
    if sport == VXLAN_PORT or dport == VXLAN_PORT:
        if q + VXLAN_LEN <= end and (buf[q] & VXLAN_I_FLAG):
            udp_vxlan = ENCAP_UDP | (ENCAP_VXLAN << LAYER_BITS)
            return _led_by(udp_vxlan, 2, after_ethernet(buf, q + VXLAN_LEN, end))
    elif sport == GENEVE_PORT or dport == GENEVE_PORT:
        return _geneve(buf, q, end)
    elif sport == GTPU_PORT or dport == GTPU_PORT:
        return _gtpu(buf, q, end)
    elif sport == CAPWAP_DATA_PORT or dport == CAPWAP_DATA_PORT:
        return _capwap_data(buf, q, end)
    return L3_NONE, l4, 0, OK, 0, 0
