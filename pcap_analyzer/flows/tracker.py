"""FlowTracker: assigns every packet to a bidirectional conversation and keeps per-conversation aggregates.

A conversation is a canonical (ip_proto, addr, port, addr, port) 5-tuple; ICMP and other protocols without
ports use port 0. TCP conversations are numbered like Wireshark's `tcp.stream`: a new conversation starts on
a 5-tuple when a SYN without ACK carries an initial sequence number different from the base sequence number
of that direction (Wireshark's "port reuse" rule in packet-tcp.c), and also, our addition, when such a SYN
arrives after the conversation was idle for more than `tcp_idle_split_s` even with the same ISN.

IP fragments: the first fragment keeps its ports (even when reassembly took its transport header away,
`Undecoded.FIRST_FRAGMENT`) and is attributed by them. Other fragments have no ports; they go to the
conversation of their datagram's first fragment, found by (src, dst, proto, IP id), with `tcp_stream` = -1
since they hold no TCP header. When the first fragment was not seen, they go to the conversation of
(proto, src, 0, dst, 0), the address pair like tshark's `conv,ip`. The fragment that completed a reassembled
datagram carries its transport header and is attributed like any packet.

State between chunks lives in NumPy arrays grown in place by 1/16 (the hash slots double); the per-packet
work is one Numba kernel.
"""

from __future__ import annotations

import numpy as np

from pcap_analyzer.decode.packets import PacketTable
from pcap_analyzer.flows.kernel import EMPTY, assign_packets, rehash
from pcap_analyzer.flows.model import FlowAssignment, FlowTable

_TABLE_FIELDS = (
    ("ip_proto", np.uint8),
    ("a_hi", np.uint64),
    ("a_lo", np.uint64),
    ("b_hi", np.uint64),
    ("b_lo", np.uint64),
    ("a_port", np.uint16),
    ("b_port", np.uint16),
    ("tcp_stream", np.int64),
    ("first_frame", np.int64),
    ("last_frame", np.int64),
    ("first_ts_ns", np.int64),
    ("last_ts_ns", np.int64),
    ("packets_ab", np.int64),
    ("packets_ba", np.int64),
    ("bytes_ab", np.int64),
    ("bytes_ba", np.int64),
    ("payload_ab", np.int64),
    ("payload_ba", np.int64),
)
_INITIAL = 1024


def _grow(a: np.ndarray, size: int) -> np.ndarray:
    """`a` with `size` rows (new rows zero), resized in place: large blocks are remapped, not copied."""
    a.resize((size,) + a.shape[1:], refcheck=False)
    return a


class FlowTracker:
    """Conversation assignment over a capture, fed one PacketTable per chunk in capture order.

    Example:
        >>> tracker = FlowTracker()
        >>> flows = tracker.assign(decode_chunk(chunk))   # for each chunk
        >>> table = tracker.table()
    """

    def __init__(self, *, tcp_idle_split_s: float = 600.0) -> None:
        if not tcp_idle_split_s > 0:
            raise ValueError(f"tcp_idle_split_s must be positive, got {tcp_idle_split_s!r}")
        self._idle_ns = int(tcp_idle_split_s * 1e9)
        self._cols = [np.zeros(_INITIAL, dtype) for _, dtype in _TABLE_FIELDS]
        self._base_seq = np.zeros((_INITIAL, 2), np.uint32)
        self._base_set = np.zeros((_INITIAL, 2), np.bool_)
        self._slots = np.full(2 * _INITIAL, EMPTY, np.int32)
        self._fslots = np.full(2 * _INITIAL, EMPTY, np.int32)
        self._fkeys = np.zeros((_INITIAL, 5), np.uint64)
        self._fconv = np.zeros(_INITIAL, np.int64)
        self._counts = np.zeros(3, np.int64)  # conversations, tcp streams, fragment keys

    def assign(self, packets: PacketTable) -> FlowAssignment:
        """Conversation id, tcp.stream and direction of every packet of one chunk."""
        n = len(packets)
        out = FlowAssignment(
            conv=np.empty(n, np.int64), tcp_stream=np.empty(n, np.int64), direction=np.empty(n, np.uint8)
        )
        p = (
            packets.l3,
            packets.undecoded,
            packets.src_hi,
            packets.src_lo,
            packets.dst_hi,
            packets.dst_lo,
            packets.ip_proto,
            packets.ip_len,
            packets.frag,
            packets.frag_offset,
            packets.ip_id,
            packets.sport,
            packets.dport,
            packets.tcp_flags,
            packets.seq,
            packets.l4_offset,
            packets.frame,
            packets.ts_ns,
            packets.wirelen,
            packets.payload_len,
        )
        i = 0
        while True:
            st = (self._slots, self._fslots, self._fkeys, self._fconv, self._base_seq, self._base_set)
            i = assign_packets(
                i,
                p,
                st,
                tuple(self._cols),
                out.conv,
                out.tcp_stream,
                out.direction,
                self._counts,
                self._idle_ns,
            )
            if i >= n:
                return out
            self._make_room()

    def _make_room(self) -> None:
        n_conv, _, n_frag = (int(x) for x in self._counts)
        cap = self._cols[0].shape[0]
        if n_conv + 1 > cap:
            cap = max(n_conv + 1, cap + cap // 16)
            self._cols = [_grow(c, cap) for c in self._cols]
            self._base_seq = _grow(self._base_seq, cap)
            self._base_set = _grow(self._base_set, cap)
        if 2 * (n_conv + 1) > self._slots.shape[0]:
            self._slots = np.full(2 * self._slots.shape[0], EMPTY, np.int32)
            c = self._cols
            rehash(self._slots, n_conv, c[0], c[1], c[2], c[5], c[3], c[4], c[6])
        if 2 * (n_frag + 1) > self._fslots.shape[0] or n_frag + 1 > self._fkeys.shape[0]:
            # Fragment keys only matter while their datagram is in flight: start a fresh, larger table.
            size = 2 * self._fkeys.shape[0]
            self._fkeys = np.zeros((size, 5), np.uint64)
            self._fconv = np.zeros(size, np.int64)
            self._fslots = np.full(2 * size, EMPTY, np.int32)
            self._counts[2] = 0

    def table(self, *, final: bool = False) -> FlowTable:
        """Per-conversation aggregates so far, indexed by conversation id: copies, or views when `final`
        (no packet is assigned after that call)."""
        n = int(self._counts[0])
        return FlowTable(
            **{
                name: col[:n] if final else col[:n].copy()
                for (name, _), col in zip(_TABLE_FIELDS, self._cols, strict=True)
            }
        )
