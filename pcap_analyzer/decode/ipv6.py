"""IPv6 header (RFC 8200) and its extension-header chain, including the fragment header."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.decode.codes import BAD_IP_HEADER, NON_FIRST_FRAGMENT, OK, OTHER_L4, TRUNCATED_IP
from pcap_analyzer.decode.fields import Header, be16, be32, be64u
from pcap_analyzer.decode.packets import FRAG_IS_FRAGMENT, FRAG_MORE
from pcap_analyzer.jit import kernel

IPV6 = Header(
    "ipv6",
    ("version_tclass_flow", 4),  # version (4 bits), traffic class (8), flow label (20)
    ("plen", 2),
    ("nxt", 1),
    ("hlim", 1),
    ("src", 16),
    ("dst", 16),
)
IPV6_PLEN = IPV6.offset("plen")
IPV6_NXT = IPV6.offset("nxt")
IPV6_HLIM = IPV6.offset("hlim")
IPV6_SRC = IPV6.offset("src")
IPV6_DST = IPV6.offset("dst")

# Generic extension header: next header, length in 8-octet units not counting the first 8 (RFC 8200 4.3).
IPV6_EXT = Header("ipv6.ext", ("nxt", 1), ("len", 1))
IPV6_FRAG = Header("ipv6.fraghdr", ("nxt", 1), ("reserved", 1), ("offset_flags", 2), ("ident", 4))
IPV6_FRAG_OFFSET = IPV6_FRAG.offset("offset_flags")
IPV6_FRAG_IDENT = IPV6_FRAG.offset("ident")
IP6F_OFF_MASK = (
    0xFFF8  # offset in 8-octet units, already shifted: the value is the byte offset (RFC 8200 4.5)
)
IP6F_MORE_FRAG = 0x0001

IPPROTO_HOPOPTS = 0  # RFC 8200
IPPROTO_ROUTING = 43  # RFC 8200
IPPROTO_FRAGMENT = 44  # RFC 8200
IPPROTO_ESP = 50  # RFC 4303
IPPROTO_AH = 51  # RFC 4302: length in 4-octet units minus 2
IPPROTO_NONE = 59  # RFC 8200
IPPROTO_DSTOPTS = 60  # RFC 8200
IPPROTO_MOBILITY = 135  # RFC 6275
IPPROTO_HIP = 139  # RFC 7401
IPPROTO_SHIM6 = 140  # RFC 5533
MAX_EXT_HEADERS = 16


IPV6_LEN = IPV6.size
IPV6_EXT_LEN = IPV6_EXT.size
IPV6_FRAG_LEN = IPV6_FRAG.size


@kernel
def states_length(nxt: int) -> bool:
    """Whether IPv6 extension header `nxt` holds its own length in its second byte (RFC 8200 4.1)."""
    return (
        nxt == IPPROTO_AH
        or nxt == IPPROTO_HOPOPTS
        or nxt == IPPROTO_ROUTING
        or nxt == IPPROTO_DSTOPTS
        or nxt == IPPROTO_MOBILITY
        or nxt == IPPROTO_HIP
        or nxt == IPPROTO_SHIM6
    )


@kernel
def ext_header_size(buf: np.ndarray, q: int, nxt: int) -> int:
    """Bytes of the extension header `nxt` at buf[q], one that `states_length` (AH counts 4-octet units
    minus 2, the others 8-octet units minus 1); buf[q + 1] must be captured."""
    if nxt == IPPROTO_AH:
        return (np.int64(buf[q + 1]) + 2) * 4
    return (np.int64(buf[q + 1]) + 1) * 8


@kernel
def decode_ipv6(
    buf: np.ndarray, p: int, end: int, wire_end: int
) -> tuple[int, np.uint64, np.uint64, np.uint64, np.uint64, int, int, int, int, int, int, int, int]:
    """IPv6 header and extension chain at buf[p].

    Returns (reason, src_hi, src_lo, dst_hi, dst_lo, upper proto, ip_len (40 + payload length, 0 when the
    fixed header was not decoded), hop limit, fragment id, frag bits, frag offset bytes, l4 offset (0 = none),
    datagram end).
    """
    z = np.uint64(0)
    if p + IPV6_LEN > end:
        return TRUNCATED_IP, z, z, z, z, 0, 0, 0, 0, 0, 0, 0, 0
    if (buf[p] >> 4) != 6:
        return BAD_IP_HEADER, z, z, z, z, 0, 0, 0, 0, 0, 0, 0, 0
    plen = be16(buf, p + IPV6_PLEN)
    wire_len = wire_end - p
    length = IPV6_LEN + plen
    if plen == 0 or length > wire_len:  # jumbogram / TSO, or the header claims more than the wire had
        length = max(wire_len, IPV6_LEN)
    ip_len = IPV6_LEN + plen if plen else length
    src_hi = be64u(buf, p + IPV6_SRC)
    src_lo = be64u(buf, p + IPV6_SRC + 8)
    dst_hi = be64u(buf, p + IPV6_DST)
    dst_lo = be64u(buf, p + IPV6_DST + 8)
    hlim = np.int64(buf[p + IPV6_HLIM])
    nxt = np.int64(buf[p + IPV6_NXT])
    q = p + IPV6_LEN
    dgram_end = p + length
    frag = 0
    frag_off = 0
    frag_id = 0
    reason = OK
    for _ in range(MAX_EXT_HEADERS):
        if nxt == IPPROTO_ESP or nxt == IPPROTO_NONE:
            reason = OTHER_L4
            break
        if nxt == IPPROTO_FRAGMENT:
            size = IPV6_FRAG_LEN
        elif states_length(nxt):
            if q + IPV6_EXT_LEN > end:
                reason = TRUNCATED_IP
                break
            size = ext_header_size(buf, q, nxt)
        else:
            break  # an upper-layer protocol
        if q + size > end:
            reason = TRUNCATED_IP
            break
        if q + size > dgram_end:
            reason = BAD_IP_HEADER
            break
        if nxt == IPPROTO_FRAGMENT:
            of = be16(buf, q + IPV6_FRAG_OFFSET)
            frag_off = of & IP6F_OFF_MASK
            frag_id = be32(buf, q + IPV6_FRAG_IDENT)
            frag = FRAG_IS_FRAGMENT | (FRAG_MORE if of & IP6F_MORE_FRAG else 0)
        nxt = np.int64(buf[q])
        q += size
        if frag_off > 0:
            reason = NON_FIRST_FRAGMENT
            break
    l4 = q if reason == OK else 0
    return (reason, src_hi, src_lo, dst_hi, dst_lo, nxt, ip_len, hlim, frag_id, frag, frag_off, l4, dgram_end)
