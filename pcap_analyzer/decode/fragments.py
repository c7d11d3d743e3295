"""Where an IP fragment's header and data lie in the buffer: the input of reassembly (decode.reassembly).

`locate_fragments` walks each selected packet as the decode kernel does (link layer, IP, tunnels) and stops
at the outermost IP header that is a fragment: that is the datagram reassembly rebuilds (a fragmented
tunnel datagram holds the inner packet; the inner headers are decoded after reassembly).
"""

from __future__ import annotations

import numpy as np

from pcap_analyzer.decode.codes import L3_IPV4, L3_NONE, OK
from pcap_analyzer.decode.fields import be16, be32
from pcap_analyzer.decode.ipv4 import IP_ID, IP_LEN, IP_PROTO, decode_ipv4
from pcap_analyzer.decode.ipv6 import (
    IPPROTO_FRAGMENT,
    IPV6_FRAG_IDENT,
    IPV6_FRAG_LEN,
    IPV6_LEN,
    IPV6_NXT,
    IPV6_PLEN,
    MAX_EXT_HEADERS,
    decode_ipv6,
    ext_header_size,
    states_length,
)
from pcap_analyzer.decode.kernel import MAX_TUNNELS, may_tunnel
from pcap_analyzer.decode.link import decode_link, network_bounds
from pcap_analyzer.decode.packets import FRAG_IS_FRAGMENT, FRAG_MORE
from pcap_analyzer.decode.tunnels import decode_tunnel
from pcap_analyzer.jit import kernel

# Columns of `locate_fragments`' int64 output (absolute offsets in `buf`).
F_OK = 0  # 1: a fragment whose header and data are all captured; CUT_IPV6: an IPv6 fragment that is not
F_V6 = 1  # 1 for IPv6
F_IP = 2  # start of the fragmented IP header
F_HDR_END = 3  # end of the unfragmentable part: the IPv4 header with options / the IPv6 fragment header
F_NXT_AT = 4  # IPv6: the next-header byte that names the fragment header (patched on reassembly)
F_DATA = 5  # fragment data: [F_DATA, F_END)
F_END = 6
F_OFFSET = 7  # fragment offset, bytes
F_MORE = 8  # 1 when more fragments follow (MF / M flag)
F_PROTO = 9  # IPv4 protocol / IPv6 fragment header's next header
F_ID = 10  # identification
F_COLUMNS = 11
MAX_DATAGRAM = 65535  # IPv4 total length, IPv6 payload length
CUT_IPV6 = 2  # only F_OFFSET is set


@kernel
def _ipv6_fragment_header(buf: np.ndarray, p: int, end: int) -> tuple[int, int]:
    """(offset of the fragment header, offset of the next-header byte naming it) in the IPv6 packet at
    buf[p], or (-1, -1) when there is none or the chain is cut."""
    nxt_at = p + IPV6_NXT
    q = p + IPV6_LEN
    for _ in range(MAX_EXT_HEADERS):
        nxt = np.int64(buf[nxt_at])
        if nxt == IPPROTO_FRAGMENT:
            return q, nxt_at
        if q + 2 > end or not states_length(nxt):
            return -1, -1
        size = ext_header_size(buf, q, nxt)
        nxt_at = q
        q += size
    return -1, -1


@kernel
def locate_fragments(buf, data_offset, caplen, wirelen, linktype, rows, out, addr):  # noqa: ANN001, ANN201
    """For packet rows[j]: out[j, F_*] and addr[j] = (src hi, src lo, dst hi, dst lo) of its outermost
    fragmented IP header; out[j, F_OK] = 0 when there is none, or when an IPv4 fragment is cut (by the
    capture or its own length fields), as tshark then does not reassemble it either; CUT_IPV6 for such an
    IPv6 fragment (tshark does not dissect the transport header of a first one either)."""
    for j in range(rows.shape[0]):
        i = rows[j]
        out[j, F_OK] = 0
        start = data_offset[i]
        end = start + np.int64(caplen[i])
        wire_end = start + max(np.int64(wirelen[i]), np.int64(caplen[i]))
        l3, p, _vl, reason, etype, _layers = decode_link(buf, start, end, np.int64(linktype[i]))
        if reason != OK:
            continue
        end, wire_end = network_bounds(buf, start, end, wire_end, np.int64(linktype[i]), p, etype)
        for _depth in range(MAX_TUNNELS + 1):
            if l3 == L3_IPV4:
                reason, s, d, proto, length, _hl, _ident, fb, foff, l4, dend = decode_ipv4(
                    buf, p, end, wire_end
                )
                if length == 0:
                    break
                if fb & FRAG_IS_FRAGMENT:
                    hdr_end = p + (np.int64(buf[p]) & 0x0F) * 4
                    total = be16(buf, p + IP_LEN)
                    frag_end = p + total
                    if hdr_end < frag_end and frag_end <= min(end, wire_end):
                        out[j, F_OK] = 1
                        out[j, F_V6] = 0
                        out[j, F_IP] = p
                        out[j, F_HDR_END] = hdr_end
                        out[j, F_NXT_AT] = p + IP_PROTO
                        out[j, F_DATA] = hdr_end
                        out[j, F_END] = frag_end
                        out[j, F_OFFSET] = foff
                        out[j, F_MORE] = 1 if fb & FRAG_MORE else 0
                        out[j, F_PROTO] = buf[p + IP_PROTO]
                        out[j, F_ID] = be16(buf, p + IP_ID)
                        addr[j, 0] = 0
                        addr[j, 1] = s
                        addr[j, 2] = 0
                        addr[j, 3] = d
                    break
            else:
                reason, shi, slo, dhi, dlo, proto, length, _hl, _ident, fb, foff, l4, dend = decode_ipv6(
                    buf, p, end, wire_end
                )
                if length == 0:
                    break
                if fb & FRAG_IS_FRAGMENT:
                    fh, nxt_at = _ipv6_fragment_header(buf, p, end)
                    plen = be16(buf, p + IPV6_PLEN)
                    frag_end = p + IPV6_LEN + plen
                    data = fh + IPV6_FRAG_LEN
                    if fh >= 0 and not (plen > 0 and data < frag_end and frag_end <= min(end, wire_end)):
                        out[j, F_OK] = CUT_IPV6
                        out[j, F_OFFSET] = foff
                    elif fh >= 0:
                        out[j, F_OK] = 1
                        out[j, F_V6] = 1
                        out[j, F_IP] = p
                        out[j, F_HDR_END] = fh
                        out[j, F_NXT_AT] = nxt_at
                        out[j, F_DATA] = data
                        out[j, F_END] = frag_end
                        out[j, F_OFFSET] = foff
                        out[j, F_MORE] = 1 if fb & FRAG_MORE else 0
                        out[j, F_PROTO] = buf[fh]
                        out[j, F_ID] = be32(buf, fh + IPV6_FRAG_IDENT)
                        addr[j, 0] = shi
                        addr[j, 1] = slo
                        addr[j, 2] = dhi
                        addr[j, 3] = dlo
                    break
            if reason != OK or not may_tunnel(proto) or _depth == MAX_TUNNELS:
                break
            inner, q, _vl, inner_reason, _et, _layers = decode_tunnel(buf, proto, l4, min(end, dend))
            if inner == L3_NONE or inner_reason != OK:
                break
            l3 = inner
            p = q
            wire_end = dend
