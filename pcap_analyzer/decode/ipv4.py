"""IPv4 header (RFC 791): addresses, lengths, TTL, fragmentation; options are skipped via IHL."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.decode.codes import BAD_IP_HEADER, NON_FIRST_FRAGMENT, OK, TRUNCATED_IP
from pcap_analyzer.decode.fields import Header, be16, be32
from pcap_analyzer.decode.packets import FRAG_IS_FRAGMENT, FRAG_MORE
from pcap_analyzer.jit import kernel

IPV4 = Header(
    "ip",
    ("version_hdr_len", 1),  # version (high nibble), IHL in 32-bit words (low nibble)
    ("dsfield", 1),
    ("len", 2),
    ("id", 2),
    ("flags_frag_offset", 2),  # reserved, DF, MF, 13-bit offset in 8-byte units
    ("ttl", 1),
    ("proto", 1),
    ("checksum", 2),
    ("src", 4),
    ("dst", 4),
)
IP_LEN = IPV4.offset("len")
IP_ID = IPV4.offset("id")
IP_FLAGS_FRAG = IPV4.offset("flags_frag_offset")
IP_TTL = IPV4.offset("ttl")
IP_PROTO = IPV4.offset("proto")
IP_SRC = IPV4.offset("src")
IP_DST = IPV4.offset("dst")

IP_MF = 0x2000  # more fragments, RFC 791
IP_OFFMASK = 0x1FFF  # fragment offset, RFC 791
IPV4_MAPPED = 0x0000_FFFF_0000_0000  # ::ffff:0:0/96, RFC 4291 2.5.5.2


IPV4_LEN = IPV4.size


@kernel
def decode_ipv4(
    buf: np.ndarray, p: int, end: int, wire_end: int
) -> tuple[int, int, int, int, int, int, int, int, int, int, int]:
    """IPv4 header at buf[p]; `end` = captured end, `wire_end` = end on the wire (p + bytes after link).

    Returns (reason, src_lo, dst_lo, proto, ip_len, ttl, id, frag bits, frag offset bytes, l4 offset,
    datagram end). ip_len is 0 when the fixed header was not decoded; l4 offset is 0 when there is no
    transport header to read (truncated options, non-first fragment).
    """
    if p + IPV4_LEN > end:
        return TRUNCATED_IP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    vhl = np.int64(buf[p])
    hlen = (vhl & 0x0F) * 4
    if (vhl >> 4) != 4 or hlen < IPV4_LEN:
        return BAD_IP_HEADER, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    ip_len = be16(buf, p + IP_LEN)
    wire_len = wire_end - p
    length = ip_len
    if ip_len == 0:  # TSO: the NIC fills the length in later; use what was on the wire
        length = wire_len
        ip_len = wire_len
    elif ip_len < hlen:
        return BAD_IP_HEADER, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
    if length > wire_len:
        length = wire_len
    src = IPV4_MAPPED | be32(buf, p + IP_SRC)
    dst = IPV4_MAPPED | be32(buf, p + IP_DST)
    ff = be16(buf, p + IP_FLAGS_FRAG)
    frag_offset = (ff & IP_OFFMASK) * 8
    frag = 0
    if ff & IP_MF:
        frag = FRAG_IS_FRAGMENT | FRAG_MORE
    elif frag_offset > 0:
        frag = FRAG_IS_FRAGMENT
    proto = np.int64(buf[p + IP_PROTO])
    ttl = np.int64(buf[p + IP_TTL])
    ip_id = be16(buf, p + IP_ID)
    reason = OK
    l4 = p + hlen
    if frag_offset > 0:
        reason = NON_FIRST_FRAGMENT
        l4 = 0
    elif p + hlen > end:
        reason = TRUNCATED_IP
        l4 = 0
    return reason, src, dst, proto, ip_len, ttl, ip_id, frag, frag_offset, l4, p + max(length, hlen)
