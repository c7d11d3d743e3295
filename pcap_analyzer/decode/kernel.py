"""The decode kernel: one Numba pass walking every packet's headers into PacketTable columns.

Conventions (truncated is not malformed):
- `ip_len > 0` exactly when the fixed IP header was decoded, so addresses, ip_proto and TTL are valid even if
  `undecoded` says the packet was cut later (TRUNCATED_IP for cut IPv4 options / IPv6 extension headers,
  TRUNCATED_L4 for a cut transport header).
- Ports are filled as soon as their 4 bytes are captured, even if the rest of the TCP/UDP header is cut.
- A TCP header whose fixed 20 bytes are captured is decoded (undecoded = OK) even when its options are cut;
  only the options that are whole in the capture are read.
- payload_len comes from the IP lengths (bounded by the wire length), never from caplen: it is tcp.len for
  TCP, udp.length - 8 for UDP, the bytes after the 8-byte header for ICMP.
- A bad TCP data offset (< 20 or beyond the IP payload) gives BAD_L4_HEADER with ports, seq, ack, flags and
  window still filled, as tshark shows them.
- DNS is decoded here over UDP only; DNS over TCP needs the byte stream (`decode.dns_tcp`).
"""

from __future__ import annotations

import numpy as np

from pcap_analyzer.decode.codes import (
    BAD_L4_HEADER,
    L3_IPV4,
    L3_NONE,
    NON_IP,
    OK,
    OTHER_L4,
    TRUNCATED_L4,
)
from pcap_analyzer.decode.dns import DNS_PORT, LLMNR_PORT, MDNS_PORT, decode_dns, looks_like_udp_dns
from pcap_analyzer.decode.encap import ENCAP_IPV4, ENCAP_IPV6, push_layers
from pcap_analyzer.decode.fields import be16, be32
from pcap_analyzer.decode.icmp import ICMP_CODE, ICMP_LEN, ICMP_MIN, ICMP_TYPE
from pcap_analyzer.decode.ipv4 import decode_ipv4
from pcap_analyzer.decode.ipv6 import decode_ipv6
from pcap_analyzer.decode.link import decode_link, network_bounds
from pcap_analyzer.decode.packets import FRAG_IS_FRAGMENT, FRAG_MORE, FRAG_OUTER
from pcap_analyzer.decode.tcp import (
    TCP_ACK,
    TCP_DSTPORT,
    TCP_LEN,
    TCP_OFF_FLAGS,
    TCP_SEQ,
    TCP_SRCPORT,
    TCP_WIN,
    decode_tcp_options,
)
from pcap_analyzer.decode.tunnels import IPPROTO_GRE, IPPROTO_IPIP, IPPROTO_IPV6, decode_tunnel
from pcap_analyzer.decode.udp import UDP_LEN, UDP_LENGTH
from pcap_analyzer.jit import kernel

IPPROTO_ICMP = 1  # RFC 792
IPPROTO_TCP = 6  # RFC 9293
IPPROTO_UDP = 17  # RFC 768
IPPROTO_ICMPV6 = 58  # RFC 4443
MAX_TUNNELS = 4  # tunnels within tunnels decoded (GRE in VXLAN in ...); deeper ones are analysed as they are
PORTS_SIZE = 4  # source + destination port: what flows need even when the rest of the header is cut
MAX_INNER_DATAGRAM = 65535 + 40  # an IPv6 header and the largest payload its length field can give


@kernel
def may_tunnel(proto: int) -> bool:
    """Whether an IP payload of protocol `proto` may hold a tunnel decode_tunnel knows."""
    return proto == IPPROTO_UDP or proto == IPPROTO_GRE or proto == IPPROTO_IPIP or proto == IPPROTO_IPV6


@kernel
def _is_dns_port(sport: int, dport: int) -> bool:
    return (
        sport == DNS_PORT
        or dport == DNS_PORT
        or sport == MDNS_PORT
        or dport == MDNS_PORT
        or sport == LLMNR_PORT
        or dport == LLMNR_PORT
    )


@kernel
def decode_packets(
    buf,
    data_offset,
    caplen,
    wirelen,
    linktype,  # noqa: ANN001 (Numba kernel)
    undecoded,
    next_header,
    l3c,
    vlan,
    encap,
    src_hi,
    src_lo,
    dst_hi,
    dst_lo,
    ip_proto,
    ip_len,
    ttl,
    ip_id,
    frag,
    frag_offset,
    l4_offset,
    sport,
    dport,
    tcp_flags,
    seq,
    ack,
    win,
    tcp_hdr_len,
    payload_len,
    mss,
    wscale,
    sack_perm,
    has_ts,
    ts_val,
    ts_ecr,
    sack_count,
    sack_left,
    sack_right,
    icmp_type,
    icmp_code,
    is_dns,
    dns_id,
    dns_flags,
    dns_qdcount,
    dns_ancount,
    dns_qtype,
    dns_qname_offset,
) -> None:
    """Decode every packet; columns must be zeroed (wscale = -1) beforehand. Offsets are per packet
    except dns_qname_offset which is an offset in `buf`."""
    n = data_offset.shape[0]
    for i in range(n):
        start = data_offset[i]
        end = start + np.int64(caplen[i])
        wire_end = start + max(np.int64(wirelen[i]), np.int64(caplen[i]))
        l3, p, vl, reason, etype, stack = decode_link(buf, start, end, np.int64(linktype[i]))
        l3c[i] = l3
        vlan[i] = vl
        if stack != 0:
            encap[i] = stack
        if reason != OK:
            undecoded[i] = reason
            if reason == NON_IP:
                next_header[i] = etype
            continue
        end, wire_end = network_bounds(buf, start, end, wire_end, np.int64(linktype[i]), p, etype)
        # Each pass decodes one IP header; a tunnel inside it (GRE, IP-in-IP, VXLAN, ...) starts another
        # pass on the inner network layer, so the innermost header's fields are the ones kept.
        depth = 0
        if stack != 0:
            stack, depth = push_layers(0, 0, stack)
        outer_frag = 0  # FRAG_OUTER once a tunnel was entered through a fragmented IP header
        for _depth in range(MAX_TUNNELS + 1):
            if l3 == L3_IPV4:
                reason, s, d, proto, length, hl, ident, fb, foff, l4, dend = decode_ipv4(
                    buf, p, end, wire_end
                )
                if length > 0:
                    src_hi[i] = 0
                    src_lo[i] = s
                    dst_hi[i] = 0
                    dst_lo[i] = d
            else:
                (reason, shi, slo, dhi, dlo, proto, length, hl, ident, fb, foff, l4, dend) = decode_ipv6(
                    buf, p, end, wire_end
                )
                if length > 0:
                    src_hi[i] = shi
                    src_lo[i] = slo
                    dst_hi[i] = dhi
                    dst_lo[i] = dlo
            if reason != OK or not may_tunnel(proto) or _depth == MAX_TUNNELS:
                break
            inner, q, _vl, inner_reason, etype, layers = decode_tunnel(buf, proto, l4, min(end, dend))
            if inner == L3_NONE:
                break
            if inner_reason != OK:  # a tunnel to something we do not decode (ARP over VXLAN, ...)
                break
            stack, depth = push_layers(stack, depth, ENCAP_IPV4 if l3 == L3_IPV4 else ENCAP_IPV6)
            stack, depth = push_layers(stack, depth, layers)
            encap[i] = stack
            l3c[i] = inner
            l3 = inner
            p = q
            if fb & FRAG_IS_FRAGMENT:
                outer_frag = FRAG_OUTER
            # A first fragment of the outer datagram holds only the start of the inner packet: the inner
            # header's own length stands (tshark reassembles the fragments and counts the whole segment).
            wire_end = q + MAX_INNER_DATAGRAM if fb & FRAG_MORE else dend
        ip_proto[i] = proto
        ip_len[i] = length
        ttl[i] = hl
        ip_id[i] = ident
        frag[i] = fb | outer_frag
        frag_offset[i] = foff
        if reason != OK:
            undecoded[i] = reason
            if reason == OTHER_L4:
                next_header[i] = proto
            continue
        l4_offset[i] = l4 - start
        avail = end - l4  # captured bytes of the transport header and beyond
        ip_payload = max(dend - l4, 0)
        if proto == IPPROTO_TCP or proto == IPPROTO_UDP:
            if avail >= PORTS_SIZE:
                sport[i] = be16(buf, l4 + TCP_SRCPORT)
                dport[i] = be16(buf, l4 + TCP_DSTPORT)
        if proto == IPPROTO_TCP:
            if avail < TCP_LEN:
                undecoded[i] = TRUNCATED_L4
                if ip_payload < TCP_LEN and avail >= TCP_OFF_FLAGS + 2:
                    # the datagram itself is too short for a TCP header (tshark's "short segment"): malformed,
                    # with the fields it holds filled, as tshark shows them
                    undecoded[i] = BAD_L4_HEADER
                    seq[i] = be32(buf, l4 + TCP_SEQ)
                    ack[i] = be32(buf, l4 + TCP_ACK)
                    tcp_flags[i] = be16(buf, l4 + TCP_OFF_FLAGS) & 0x01FF
                    tcp_hdr_len[i] = (be16(buf, l4 + TCP_OFF_FLAGS) >> 12) * 4
                    if avail >= TCP_WIN + 2:
                        win[i] = be16(buf, l4 + TCP_WIN)
                continue
            seq[i] = be32(buf, l4 + TCP_SEQ)
            ack[i] = be32(buf, l4 + TCP_ACK)
            off_flags = be16(buf, l4 + TCP_OFF_FLAGS)
            tcp_flags[i] = off_flags & 0x01FF
            win[i] = be16(buf, l4 + TCP_WIN)
            hlen = (off_flags >> 12) * 4
            tcp_hdr_len[i] = hlen
            if hlen < TCP_LEN or hlen > ip_payload:
                undecoded[i] = BAD_L4_HEADER
                continue
            payload_len[i] = ip_payload - hlen
            if hlen > TCP_LEN:
                decode_tcp_options(
                    buf,
                    l4 + TCP_LEN,
                    min(l4 + hlen, end),
                    i,
                    mss,
                    wscale,
                    sack_perm,
                    has_ts,
                    ts_val,
                    ts_ecr,
                    sack_count,
                    sack_left,
                    sack_right,
                )
        elif proto == IPPROTO_UDP:
            if avail < UDP_LEN:
                undecoded[i] = TRUNCATED_L4
                continue
            ulen = be16(buf, l4 + UDP_LENGTH)
            if ulen >= UDP_LEN and (ulen <= ip_payload or fb != 0):
                payload_len[i] = ulen - UDP_LEN
            else:
                payload_len[i] = max(ip_payload - UDP_LEN, 0)
            # DNS on its ports, and elsewhere when tshark's heuristic would take the payload for DNS
            if _is_dns_port(sport[i], dport[i]) or looks_like_udp_dns(
                buf, l4 + UDP_LEN, end, np.int64(payload_len[i]), np.int64(sport[i]), np.int64(dport[i])
            ):
                decode_dns(
                    buf,
                    l4 + UDP_LEN,
                    end,
                    i,
                    is_dns,
                    dns_id,
                    dns_flags,
                    dns_qdcount,
                    dns_ancount,
                    dns_qtype,
                    dns_qname_offset,
                    l4 + UDP_LEN + np.int64(payload_len[i]),
                )
        elif proto == IPPROTO_ICMP or proto == IPPROTO_ICMPV6:
            if avail >= 2:
                icmp_type[i] = buf[l4 + ICMP_TYPE]
                icmp_code[i] = buf[l4 + ICMP_CODE]
            if avail < ICMP_MIN:
                undecoded[i] = TRUNCATED_L4
                continue
            payload_len[i] = max(ip_payload - ICMP_LEN, 0)
        else:
            l4_offset[i] = 0
            undecoded[i] = OTHER_L4
            next_header[i] = proto
