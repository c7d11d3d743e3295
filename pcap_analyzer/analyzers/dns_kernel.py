"""Numba kernels of the DNS analyzer: query/response matching over a chunk's DNS packets.

Open transactions live in NumPy rows addressed by an open-addressing hash of their key (conversation, DNS id,
question name, type and class); a row is reused when its key opens a new transaction, so row order is the
order in which keys were first inserted. Names are carried as 64-bit hashes of the label bytes the decoder
visits (see `name_hash`); the analyzer decodes one representative per hash.
"""

from __future__ import annotations

import numpy as np

from pcap_analyzer.hashing import GOLDEN, mix64
from pcap_analyzer.jit import kernel

EMPTY = -1
NAME_NONE = np.uint64(0)  # no question: qname_at gives ""
NAME_ROOT = np.uint64(1)  # no label: "<Root>"

# txn key columns (`keys`, uint64): conversation (+1, 0 = by address), canonical endpoints, DNS id with
# the question's type and class (id | qtype << 16 | qclass << 32), question name hash
K_CONV, K_AHI, K_ALO, K_APORT, K_BHI, K_BLO, K_BPORT, K_ID, K_NAME = range(9)
N_KEY = 9
# txn value columns (`vals`, int64)
V_TS, V_FRAME, V_ANSWERED, V_QTYPE, V_SERVER, V_ORDER = range(6)
N_VAL = 6
# txn address/name columns (`addrs`, uint64)
A_CHI, A_CLO, A_SHI, A_SLO, A_NAME = range(5)
N_ADDR = 5
# counters (`counts`, int64)
C_OPEN, C_SEQ, C_LATEST, C_SERVERS = range(4)
# per-packet outcome (`kind`)
UNSOLICITED, RETRANSMITTED_RESPONSE, ANSWER, RETRANSMITTED_QUERY, NEW_QUERY = range(5)
# per-server counters (`srv_counts`)
SRV_QUERIES, SRV_UNANSWERED, SRV_ERRORS = range(3)
# tshark's transactions (`match_tshark`): keys as above with K_NAME = 0; values: first query's time,
# answered, last query frame
T_TS, T_ANSWERED, T_LAST = range(3)
N_TVAL = 3
# tshark counters (`t_counts`): transactions kept, query frames found without dns.response_in so far
TC_OPEN, TC_UNANSWERED = range(2)

_HEADER = 12
_WINDOW = 2048
_MAX_JUMPS = 64
_MAX_NAME = 255
_FNV = np.uint64(0x100000001B3)


@kernel
def name_hash(buf: np.ndarray, qoff: int) -> np.uint64:
    """Hash of the label bytes `dns_names.qname_at(buf, qoff)` reads, walking them the same way."""
    if qoff <= 0:
        return NAME_NONE
    lo = qoff - _HEADER
    hi = min(lo + _WINDOW, buf.shape[0])
    size = hi - lo
    pos, jumps, length, labels = _HEADER, 0, 0, 0
    h = np.uint64(0xCBF29CE484222325)
    while 0 <= pos < size:
        n = np.int64(buf[lo + pos])
        if n == 0:
            break
        if n & 0xC0 == 0xC0:
            if pos + 1 >= size or jumps >= _MAX_JUMPS:
                break
            pos = ((n & 0x3F) << 8) | np.int64(buf[lo + pos + 1])
            jumps += 1
            continue
        if n & 0xC0:
            break
        length += 1 + n
        if length > _MAX_NAME:
            break
        end = min(pos + 1 + n, size)
        h = mix64(h, np.uint64(end - pos - 1) | np.uint64(0x100))  # label length, never a byte value
        for k in range(pos + 1, end):
            h = (h ^ np.uint64(buf[lo + k])) * _FNV
        labels += 1
        pos += 1 + n
    if labels == 0:
        return NAME_ROOT
    h = mix64(h, np.uint64(labels))
    return h if h > NAME_ROOT else h + np.uint64(2)


@kernel
def qclass_at(buf: np.ndarray, qoff: int) -> np.uint64:
    """QCLASS of the question whose name starts at `buf[qoff]` (0 when it cannot be read)."""
    if qoff <= 0:
        return np.uint64(0)
    q, end = np.int64(qoff), buf.shape[0]
    for _ in range(128):
        if q >= end:
            return np.uint64(0)
        n = np.int64(buf[q])
        if n == 0:
            q += 1
            break
        if n & 0xC0 == 0xC0:
            q += 2
            break
        if n & 0xC0:
            return np.uint64(0)
        q += 1 + n
    else:
        return np.uint64(0)
    if q + 4 > end:
        return np.uint64(0)
    return np.uint64((np.int64(buf[q + 2]) << 8) | np.int64(buf[q + 3]))


@kernel
def _key_slot(slots, keys, k0, k1, k2, k3, k4, k5, k6, k7, k8):  # noqa: ANN001, ANN202
    """(slot, row) of a key; row = -1 and slot = the free slot when absent."""
    mask = np.uint64(slots.shape[0] - 1)
    h = mix64(mix64(mix64(mix64(mix64(mix64(mix64(mix64(GOLDEN, k0), k1), k2), k3), k4), k5), k6), k7)
    h = mix64(h, k8)
    s = h & mask
    while True:
        r = slots[s]
        if r == EMPTY:
            return s, -1
        if (
            keys[r, K_ID] == k7
            and keys[r, K_NAME] == k8
            and keys[r, K_CONV] == k0
            and keys[r, K_AHI] == k1
            and keys[r, K_ALO] == k2
            and keys[r, K_APORT] == k3
            and keys[r, K_BHI] == k4
            and keys[r, K_BLO] == k5
            and keys[r, K_BPORT] == k6
        ):
            return s, r
        s = (s + np.uint64(1)) & mask


@kernel
def rebuild(slots, keys, n) -> None:  # noqa: ANN001
    """Index rows 0..n-1 into an all-EMPTY slot table."""
    for r in range(n):
        s, _ = _key_slot(
            slots, keys, keys[r, 0], keys[r, 1], keys[r, 2], keys[r, 3], keys[r, 4], keys[r, 5],
            keys[r, 6], keys[r, 7], keys[r, 8],
        )
        slots[s] = r


@kernel
def _server_id(srv_slots, srv_addr, counts, hi, lo) -> int:  # noqa: ANN001
    """Id of a server address, registering it while there is room; -1 when the table is full."""
    mask = np.uint64(srv_slots.shape[0] - 1)
    s = mix64(mix64(GOLDEN, hi), lo) & mask
    while True:
        r = srv_slots[s]
        if r == EMPTY:
            n = counts[C_SERVERS]
            if n >= srv_addr.shape[0]:
                return -1
            srv_addr[n, 0], srv_addr[n, 1] = hi, lo
            srv_slots[s] = n
            counts[C_SERVERS] = n + 1
            return n
        if srv_addr[r, 0] == hi and srv_addr[r, 1] == lo:
            return r
        s = (s + np.uint64(1)) & mask


@kernel
def _conv_key(c, shi, slo, sport, dhi, dlo, dport):  # noqa: ANN001, ANN202
    """The first 7 key columns of a message: its conversation (+1), or without one the canonical address
    pair (lower endpoint, higher endpoint)."""
    if c >= 0:
        z = np.uint64(0)
        return np.uint64(c + 1), z, z, z, z, z, z
    a0, a1, a2 = np.uint64(shi), np.uint64(slo), np.uint64(sport)
    b0, b1, b2 = np.uint64(dhi), np.uint64(dlo), np.uint64(dport)
    if b0 < a0 or (b0 == a0 and (b1 < a1 or (b1 == a1 and b2 < a2))):
        a0, a1, a2, b0, b1, b2 = b0, b1, b2, a0, a1, a2
    return np.uint64(0), a0, a1, a2, b0, b1, b2


@kernel
def match_chunk(  # noqa: ANN201
    idx, p, conv, slots, keys, vals, addrs, counts, srv_slots, srv_addr, srv_counts, rcodes,
    kind, q_row, q_ts, q_frame, q_qtype, q_addr, q_server,
):
    """Match the DNS packets `idx` of one chunk, in order; per packet fill the `kind` outcome and, for
    answers and new queries, a copy of the transaction (`q_*`, as it stands at that packet).

    p: (ts_ns, frame, dns_id, dns_flags, dns_qtype, dns_qname_offset, src_hi, src_lo, dst_hi, dst_lo,
    sport, dport, buf). The caller guarantees room for len(idx) new rows. Responses are counted per
    rcode into `rcodes` (16 values).
    """
    ts_ns, frame, dns_id, dns_flags, dns_qtype, qname_off = p[:6]
    src_hi, src_lo, dst_hi, dst_lo, sport, dport, buf = p[6:]
    for j in range(idx.shape[0]):
        i = idx[j]
        ts = ts_ns[i]
        if ts > counts[C_LATEST]:
            counts[C_LATEST] = ts
        qtype = np.uint64(dns_qtype[i])
        qoff = np.int64(qname_off[i])
        ident = np.uint64(dns_id[i]) | (qtype << np.uint64(16)) | (qclass_at(buf, qoff) << np.uint64(32))
        name = name_hash(buf, qoff)
        k0, k1, k2, k3, k4, k5, k6 = _conv_key(
            conv[i], src_hi[i], src_lo[i], sport[i], dst_hi[i], dst_lo[i], dport[i]
        )
        s, r = _key_slot(slots, keys, k0, k1, k2, k3, k4, k5, k6, ident, name)
        q_row[j] = r
        if dns_flags[i] & 0x8000:
            rcode = dns_flags[i] & 0xF
            rcodes[rcode] += 1
            if r < 0:
                kind[j] = UNSOLICITED
            elif vals[r, V_ANSWERED]:
                kind[j] = RETRANSMITTED_RESPONSE
            else:
                kind[j] = ANSWER
                vals[r, V_ANSWERED] = 1
                sid = vals[r, V_SERVER]
                if sid >= 0 and rcode != 0:
                    srv_counts[sid, SRV_ERRORS] += 1
                _copy(j, r, vals, addrs, q_ts, q_frame, q_qtype, q_addr, q_server)
            continue
        if r >= 0 and not vals[r, V_ANSWERED]:  # same flow, id and question, still unanswered
            kind[j] = RETRANSMITTED_QUERY
            if vals[r, V_SERVER] >= 0:
                srv_counts[vals[r, V_SERVER], SRV_QUERIES] += 1
            continue
        if r < 0:
            r = counts[C_OPEN]
            counts[C_OPEN] = r + 1
            slots[s] = r
            keys[r, 0], keys[r, 1], keys[r, 2], keys[r, 3] = k0, k1, k2, k3
            keys[r, 4], keys[r, 5], keys[r, 6], keys[r, 7], keys[r, 8] = k4, k5, k6, ident, name
            vals[r, V_ORDER] = counts[C_SEQ]
            counts[C_SEQ] += 1
        q_row[j] = r
        kind[j] = NEW_QUERY
        vals[r, V_TS], vals[r, V_FRAME], vals[r, V_ANSWERED] = ts, frame[i], 0
        vals[r, V_QTYPE] = dns_qtype[i]
        addrs[r, A_CHI], addrs[r, A_CLO] = src_hi[i], src_lo[i]
        addrs[r, A_SHI], addrs[r, A_SLO] = dst_hi[i], dst_lo[i]
        addrs[r, A_NAME] = name
        sid = _server_id(srv_slots, srv_addr, counts, dst_hi[i], dst_lo[i])
        vals[r, V_SERVER] = sid
        if sid >= 0:
            srv_counts[sid, SRV_QUERIES] += 1
        _copy(j, r, vals, addrs, q_ts, q_frame, q_qtype, q_addr, q_server)


@kernel
def _copy(j, r, vals, addrs, q_ts, q_frame, q_qtype, q_addr, q_server) -> None:  # noqa: ANN001
    q_ts[j], q_frame[j], q_qtype[j], q_server[j] = vals[r, V_TS], vals[r, V_FRAME], vals[r, V_QTYPE], \
        vals[r, V_SERVER]
    for k in range(N_ADDR):
        q_addr[j, k] = addrs[r, k]


@kernel
def match_tshark(idx, p, conv, slots, keys, vals, counts, window_ns) -> None:  # noqa: ANN001
    """tshark 4.0's own matching (packet-dns.c), for its figure of query frames without dns.response_in.

    Per conversation and DNS id (the question is not compared): a query opens a transaction, unless the
    latest transaction with its id is unanswered and was opened less than `window_ns` before
    (dns.retransmission_timer, 5 s): then it is a retransmission, which tshark shows without
    dns.response_in even when the transaction is answered later. A response answers the latest
    transaction with its id. counts[TC_UNANSWERED] gets the retransmitted query frames and the first
    query frame of each transaction replaced while unanswered; the caller adds the transactions still
    unanswered at the end. `p` as in `match_chunk`; the caller guarantees room for len(idx) new rows.
    """
    ts_ns, frame, dns_id, dns_flags = p[0], p[1], p[2], p[3]
    src_hi, src_lo, dst_hi, dst_lo, sport, dport = p[6], p[7], p[8], p[9], p[10], p[11]
    for j in range(idx.shape[0]):
        i = idx[j]
        k0, k1, k2, k3, k4, k5, k6 = _conv_key(
            conv[i], src_hi[i], src_lo[i], sport[i], dst_hi[i], dst_lo[i], dport[i]
        )
        ident = np.uint64(dns_id[i])
        s, r = _key_slot(slots, keys, k0, k1, k2, k3, k4, k5, k6, ident, NAME_NONE)
        if dns_flags[i] & 0x8000:
            if r >= 0:
                vals[r, T_ANSWERED] = 1
            continue
        ts = ts_ns[i]
        if r >= 0 and vals[r, T_ANSWERED] == 0 and ts - vals[r, T_TS] < window_ns:
            if vals[r, T_LAST] != frame[i]:  # a frame with several queries counts once
                counts[TC_UNANSWERED] += 1
                vals[r, T_LAST] = frame[i]
            continue
        if r >= 0:
            if vals[r, T_ANSWERED] == 0:
                counts[TC_UNANSWERED] += 1
        else:
            r = counts[TC_OPEN]
            counts[TC_OPEN] = r + 1
            slots[s] = r
            keys[r, 0], keys[r, 1], keys[r, 2], keys[r, 3] = k0, k1, k2, k3
            keys[r, 4], keys[r, 5], keys[r, 6], keys[r, 7], keys[r, 8] = k4, k5, k6, ident, NAME_NONE
        vals[r, T_TS], vals[r, T_ANSWERED], vals[r, T_LAST] = ts, 0, frame[i]
