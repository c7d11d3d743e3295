"""Header decoding: RecordChunk bytes into PacketTable columns, one module per protocol."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.capture.chunk import RecordChunk
from pcap_analyzer.decode.kernel import decode_packets
from pcap_analyzer.decode.packets import PacketTable

__all__ = ["decode_chunk"]


def decode_chunk(chunk: RecordChunk) -> PacketTable:
    """Decode every record of `chunk` into a PacketTable (one Numba pass, no Python object per packet).

    Args:
        chunk: records of one capture chunk.

    Returns:
        The table, aligned with the chunk's records; `frame` is 1-based over the whole capture.

    Example:
        >>> table = decode_chunk(chunk)
        >>> table.sport[table.ip_proto == 6]
    """
    n = len(chunk)
    t = PacketTable.empty(n, buf=chunk.buf)
    t.frame[:] = np.arange(chunk.first_index + 1, chunk.first_index + n + 1, dtype=np.int64)
    t.ts_ns[:] = chunk.ts_ns
    t.caplen[:] = chunk.caplen
    t.wirelen[:] = chunk.wirelen
    t.linktype[:] = chunk.linktype
    t.data_offset = np.ascontiguousarray(chunk.data_offset, dtype=np.int64)
    if n:
        # Never read past the buffer, whatever the reader's caplen says.
        caplen = np.minimum(t.caplen.astype(np.int64), np.maximum(len(chunk.buf) - t.data_offset, 0))
        decode_packets(
            chunk.buf,
            t.data_offset,
            caplen,
            t.wirelen,
            t.linktype,
            t.undecoded,
            t.next_header,
            t.l3,
            t.vlan,
            t.encap,
            t.src_hi,
            t.src_lo,
            t.dst_hi,
            t.dst_lo,
            t.ip_proto,
            t.ip_len,
            t.ttl,
            t.ip_id,
            t.frag,
            t.frag_offset,
            t.l4_offset,
            t.sport,
            t.dport,
            t.tcp_flags,
            t.seq,
            t.ack,
            t.win,
            t.tcp_hdr_len,
            t.payload_len,
            t.mss,
            t.wscale,
            t.sack_perm,
            t.has_ts,
            t.ts_val,
            t.ts_ecr,
            t.sack_count,
            t.sack_left,
            t.sack_right,
            t.icmp_type,
            t.icmp_code,
            t.is_dns,
            t.dns_id,
            t.dns_flags,
            t.dns_qdcount,
            t.dns_ancount,
            t.dns_qtype,
            t.dns_qname_offset,
        )
    return t
