"""Numba kernels of the flow tracker: open-addressing hash over canonical 5-tuples, the per-packet loop."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.decode.codes import BAD_L4_HEADER, L3_IPV4, L3_IPV6, OK
from pcap_analyzer.decode.packets import FRAG_MORE, TCP_ACK, TCP_SYN
from pcap_analyzer.hashing import mix64
from pcap_analyzer.jit import kernel

IPPROTO_TCP = 6
EMPTY = -1
_M2 = np.uint64(0xBF58476D1CE4E5B9)


@kernel
def _less(ahi, alo, ap, bhi, blo, bp) -> bool:  # noqa: ANN001
    if ahi != bhi:
        return ahi < bhi
    if alo != blo:
        return alo < blo
    return ap < bp


@kernel
def key_hash(proto, shi, slo, sp, dhi, dlo, dp) -> np.uint64:  # noqa: ANN001
    """Direction-independent hash of a 5-tuple (the lower (addr, port) endpoint goes first)."""
    if _less(dhi, dlo, dp, shi, slo, sp):
        shi, slo, sp, dhi, dlo, dp = dhi, dlo, dp, shi, slo, sp
    h = mix64(np.uint64(proto) + _M2, shi)
    h = mix64(h, slo)
    h = mix64(h, np.uint64(sp) << np.uint64(16) | np.uint64(dp))
    h = mix64(h, dhi)
    return mix64(h, dlo)


@kernel
def _matches(c, proto, shi, slo, sp, dhi, dlo, dp, c_proto, a_hi, a_lo, a_port, b_hi, b_lo, b_port) -> int:  # noqa: ANN001
    """0 when the packet goes A->B in conversation c, 1 when B->A, -1 when c is another 5-tuple."""
    if c_proto[c] != proto:
        return -1
    if (
        a_hi[c] == shi
        and a_lo[c] == slo
        and a_port[c] == sp
        and b_hi[c] == dhi
        and b_lo[c] == dlo
        and b_port[c] == dp
    ):
        return 0
    if (
        a_hi[c] == dhi
        and a_lo[c] == dlo
        and a_port[c] == dp
        and b_hi[c] == shi
        and b_lo[c] == slo
        and b_port[c] == sp
    ):
        return 1
    return -1


@kernel
def find_slot(slots, proto, shi, slo, sp, dhi, dlo, dp, c_proto, a_hi, a_lo, a_port, b_hi, b_lo, b_port):  # noqa: ANN001, ANN201
    """(slot, conv, direction) for a 5-tuple; conv = -1 and slot = the free slot when absent."""
    mask = np.uint64(slots.shape[0] - 1)
    s = key_hash(proto, shi, slo, sp, dhi, dlo, dp) & mask
    while True:
        c = slots[s]
        if c == EMPTY:
            return s, -1, 0
        d = _matches(c, proto, shi, slo, sp, dhi, dlo, dp, c_proto, a_hi, a_lo, a_port, b_hi, b_lo, b_port)
        if d >= 0:
            return s, c, d
        s = (s + np.uint64(1)) & mask


@kernel
def rehash(slots, n_conv, c_proto, a_hi, a_lo, a_port, b_hi, b_lo, b_port) -> None:  # noqa: ANN001
    """Fill an empty slot table with conversations 0..n_conv-1; the latest one of a reused 5-tuple wins."""
    for c in range(n_conv):
        s, old, _ = find_slot(
            slots,
            c_proto[c],
            a_hi[c],
            a_lo[c],
            a_port[c],
            b_hi[c],
            b_lo[c],
            b_port[c],
            c_proto,
            a_hi,
            a_lo,
            a_port,
            b_hi,
            b_lo,
            b_port,
        )
        slots[s] = c


@kernel
def frag_slot(fslots, fkeys, fconv, proto, shi, slo, dhi, dlo, ident):  # noqa: ANN001, ANN201
    """(slot, conv) of an IP datagram (src, dst, proto, id) in the fragment table; conv = -1 when absent."""
    mask = np.uint64(fslots.shape[0] - 1)
    s = (
        mix64(mix64(mix64(mix64(np.uint64(proto) << np.uint64(32) | np.uint64(ident), shi), slo), dhi), dlo)
        & mask
    )
    while True:
        k = fslots[s]
        if k == EMPTY:
            return s, -1
        if (
            fkeys[k, 0] == shi
            and fkeys[k, 1] == slo
            and fkeys[k, 2] == dhi
            and fkeys[k, 3] == dlo
            and fkeys[k, 4] == (np.uint64(proto) << np.uint64(32) | np.uint64(ident))
        ):
            return s, fconv[k]
        s = (s + np.uint64(1)) & mask


@kernel
def assign_packets(i0, p, st, fl, out_conv, out_stream, out_dir, counts, idle_ns):  # noqa: ANN001, ANN201
    """Assign packets i0.. of one chunk; returns the index reached (< n when a table must grow first).

    p: packet columns tuple; st: (slots, fslots, fkeys, fconv, base_seq, base_set); fl: FlowTable columns
    tuple; counts: [conversations, tcp streams, fragment keys].
    """
    (
        l3,
        undecoded,
        src_hi,
        src_lo,
        dst_hi,
        dst_lo,
        ip_proto,
        ip_len,
        frag,
        frag_offset,
        ip_id,
        sport,
        dport,
        tcp_flags,
        seq,
        l4_offset,
        frame,
        ts_ns,
        wirelen,
        payload_len,
    ) = p
    slots, fslots, fkeys, fconv, base_seq, base_set = st
    (
        c_proto,
        a_hi,
        a_lo,
        b_hi,
        b_lo,
        a_port,
        b_port,
        c_stream,
        first_frame,
        last_frame,
        first_ts,
        last_ts,
        packets_ab,
        packets_ba,
        bytes_ab,
        bytes_ba,
        payload_ab,
        payload_ba,
    ) = fl
    n = l3.shape[0]
    for i in range(i0, n):
        if (
            2 * (counts[0] + 1) > slots.shape[0]
            or counts[0] + 1 > c_proto.shape[0]
            or 2 * (counts[2] + 1) > fslots.shape[0]
            or counts[2] + 1 > fkeys.shape[0]
        ):
            return i
        out_stream[i] = -1
        if (l3[i] != L3_IPV4 and l3[i] != L3_IPV6) or ip_len[i] == 0:
            out_conv[i] = -1
            out_dir[i] = 0
            continue
        proto = ip_proto[i]
        shi, slo, dhi, dlo = src_hi[i], src_lo[i], dst_hi[i], dst_lo[i]
        sp, dp = sport[i], dport[i]
        c = -1
        d = 0
        # A non-first fragment with no transport header (one that completed a reassembled datagram has one):
        # the datagram's first fragment decides.
        if frag_offset[i] > 0 and l4_offset[i] == 0:
            _, c = frag_slot(fslots, fkeys, fconv, proto, shi, slo, dhi, dlo, ip_id[i])
            if c >= 0:
                d = 0 if a_hi[c] == shi and a_lo[c] == slo else 1
        if c < 0:
            s, c, d = find_slot(
                slots, proto, shi, slo, sp, dhi, dlo, dp, c_proto, a_hi, a_lo, a_port, b_hi, b_lo, b_port
            )
            has_flags = (
                proto == IPPROTO_TCP
                and l4_offset[i] > 0
                and (undecoded[i] == OK or undecoded[i] == BAD_L4_HEADER)
            )
            fresh = c < 0
            if not fresh and has_flags and (tcp_flags[i] & (TCP_SYN | TCP_ACK)) == TCP_SYN:
                # Wireshark's port reuse: a SYN whose ISN differs from the direction's base sequence number;
                # ours as well: a SYN after the conversation was idle for longer than idle_ns.
                new_isn = base_set[c, d] and np.uint32(seq[i]) != np.uint32(base_seq[c, d])
                fresh = new_isn or ts_ns[i] - last_ts[c] > idle_ns
            if fresh:
                c = counts[0]
                counts[0] += 1
                slots[s] = c
                d = 0
                c_proto[c] = proto
                a_hi[c], a_lo[c], a_port[c] = shi, slo, sp
                b_hi[c], b_lo[c], b_port[c] = dhi, dlo, dp
                c_stream[c] = -1
                if proto == IPPROTO_TCP:
                    c_stream[c] = counts[1]
                    counts[1] += 1
                first_frame[c] = frame[i]
                first_ts[c] = ts_ns[i]
                base_set[c, 0] = False
                base_set[c, 1] = False
            if has_flags:
                if not base_set[c, d]:
                    base_seq[c, d] = seq[i] if tcp_flags[i] & TCP_SYN else np.uint32(seq[i] - np.uint32(1))
                    base_set[c, d] = True
                elif (tcp_flags[i] & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK):
                    base_seq[c, d] = seq[i]
            if proto == IPPROTO_TCP and l4_offset[i] > 0:
                out_stream[i] = c_stream[c]
            if frag[i] & FRAG_MORE:
                fs, known = frag_slot(fslots, fkeys, fconv, proto, shi, slo, dhi, dlo, ip_id[i])
                if known < 0:
                    k = counts[2]
                    counts[2] += 1
                    fkeys[k, 0], fkeys[k, 1], fkeys[k, 2], fkeys[k, 3] = shi, slo, dhi, dlo
                    fkeys[k, 4] = np.uint64(proto) << np.uint64(32) | np.uint64(ip_id[i])
                    fconv[k] = c
                    fslots[fs] = k
        out_conv[i] = c
        out_dir[i] = d
        last_frame[c] = frame[i]
        last_ts[c] = ts_ns[i]
        if d == 0:
            packets_ab[c] += 1
            bytes_ab[c] += wirelen[i]
            payload_ab[c] += payload_len[i]
        else:
            packets_ba[c] += 1
            bytes_ba[c] += wirelen[i]
            payload_ba[c] += payload_len[i]
    return n
