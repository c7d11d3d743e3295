"""IP reassembly: IPv4 and IPv6 fragments put back together before transport analysis, as tshark does by
default (ip.defragment, ipv6.defragment).

Like tshark, the frame that completes a datagram (the last fragment needed, in capture order) carries the
reassembled datagram's transport fields: ports, TCP header and options, payload length (tcp.len, udp.length
- 8 of the whole datagram), ICMP type, DNS header. The other fragments are plain IP fragments: the first one
loses the transport fields the decoder read from it (`Undecoded.FIRST_FRAGMENT`; its ports stay, so the flow
tracker puts all the fragments in the datagram's conversation), later ones stay NON_FIRST_FRAGMENT. A
datagram that never completes keeps no transport fields either, as in tshark. A fragment that is not whole in
the capture (cut by the snap length) is not taken for reassembly; a first one keeps its transport fields if
it is IPv4 (tshark then dissects its headers too), not if it is IPv6 (neither does tshark).

Reassembled bytes: each chunk where datagrams completed gets a new buffer, the chunk's bytes followed by each
reassembled IP datagram, and the completing row's `data_offset`, `caplen` and `l4_offset` describe that
datagram (so payload readers and the lazily decoded DNS names find its bytes the usual way). The other chunks
are untouched: the only cost there is one mask over the `frag` column.

Datagrams are identified by (source, destination, protocol, identification) for IPv4 (RFC 791) and
(source, destination, identification) for IPv6 (RFC 8200). Overlapping and duplicate fragments: as in
tshark, the bytes of the fragment with the lower offset (the earlier one at equal offsets) are kept. A
fragment of a datagram that already completed starts a new one (tshark does the same). Memory is bounded: at
most `max_open` datagrams and `max_bytes` bytes of fragment data are held (the oldest datagram is dropped to
make room), and a datagram still incomplete `timeout_s` after its first fragment is dropped, as the Linux
kernel does after ipfrag_time (30 s); tshark has no timeout, so a datagram whose fragments are spread over
more than that is reassembled by tshark only.

Nested fragmentation (a fragmented datagram inside a reassembled tunnel datagram) is reassembled at the outer
level only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pcap_analyzer.capture.chunk import RecordChunk
from pcap_analyzer.decode import decode_chunk
from pcap_analyzer.decode.fragments import (
    CUT_IPV6,
    F_COLUMNS,
    F_DATA,
    F_END,
    F_HDR_END,
    F_ID,
    F_IP,
    F_MORE,
    F_NXT_AT,
    F_OFFSET,
    F_OK,
    F_PROTO,
    F_V6,
    MAX_DATAGRAM,
    locate_fragments,
)
from pcap_analyzer.decode.link import LINKTYPE_IPV4, LINKTYPE_IPV6
from pcap_analyzer.decode.packets import FRAG_IS_FRAGMENT, FRAG_OUTER, L3, PacketTable, Undecoded

# (IPv6?, src hi, src lo, dst hi, dst lo, protocol (IPv4 only), identification)
Key = tuple[int, int, int, int, int, int, int]

# Columns the completing row takes from the reassembled datagram's decode.
_TRANSPORT = (
    "ip_proto", "undecoded", "next_header", "l4_offset", "sport", "dport", "tcp_flags", "seq", "ack", "win",
    "tcp_hdr_len", "payload_len", "mss", "wscale", "sack_perm", "has_ts", "ts_val", "ts_ecr", "sack_count",
    "sack_left", "sack_right", "icmp_type", "icmp_code", "is_dns", "dns_id", "dns_flags", "dns_qdcount",
    "dns_ancount", "dns_qtype", "dns_qname_offset",
)  # fmt: skip
# ... and, when the datagram held a tunnel, the inner network-layer columns too (as the decoder keeps the
# innermost header's fields).
_NETWORK = (
    "l3", "src_hi", "src_lo", "dst_hi", "dst_lo", "ip_len", "ttl", "ip_id", "frag", "frag_offset",
)  # fmt: skip
# Columns a first fragment loses (ports stay: see the module docstring); wscale is reset to -1 apart.
_STRIPPED = tuple(c for c in _TRANSPORT if c not in ("ip_proto", "undecoded", "sport", "dport", "wscale"))

_IPV4_DF = 0x4000
_IPV6_PLEN = 4  # offset of the IPv6 payload length
_IPV4_TOTAL_LEN = 2
_IPV4_FLAGS = 6


@dataclass(slots=True)
class _Datagram:
    first_ns: int
    pieces: list[tuple[int, bytes]] = field(default_factory=list)  # (offset, data) in arrival order
    held: int = 0  # bytes in `pieces`
    end: int = -1  # length of the datagram's data, once its last fragment was seen
    header: bytes = b""  # unfragmentable part of the first fragment (IPv6: up to the fragment header)
    nxt_at: int = 0  # IPv6: index in `header` of the next-header byte naming the fragment header
    proto: int = 0  # IPv6: the first fragment's fragment-header next header


class IpReassembler:
    """Reassembles fragmented IP datagrams across the chunks of one capture, fed in capture order.

    Example:
        >>> reassembler = IpReassembler()
        >>> packets = reassembler.apply(decode_chunk(chunk))   # for each chunk
    """

    def __init__(
        self,
        timeout_s: float = 30.0,
        max_open: int = 10_000,
        max_bytes: int = 64 << 20,
        max_fragments: int = 8192,
    ) -> None:
        self.timeout_ns = int(timeout_s * 1e9)
        self.max_open = max_open
        self.max_bytes = max_bytes
        self.max_fragments = max_fragments  # per datagram (8-byte fragments of a 64 KB datagram: 8192)
        self.reassembled = 0
        self.dropped = 0  # datagrams dropped for room (max_open, max_bytes) or too many fragments
        self.timed_out = 0
        self._open: dict[Key, _Datagram] = {}  # insertion order = age
        self._bytes = 0

    def apply(self, packets: PacketTable) -> PacketTable:
        """Take the fragments of `packets` (one decoded chunk, in capture order) for reassembly and rewrite
        the rows of first fragments and of frames that complete a datagram, in place; returns `packets`
        (whose `buf`, `data_offset` and `caplen` are new arrays when a datagram completed)."""
        rows = np.flatnonzero(packets.frag & (FRAG_IS_FRAGMENT | FRAG_OUTER))
        if rows.size == 0:
            return packets
        loc, addr = self._locate(packets, rows)
        cut_first = rows[(loc[:, F_OK] == CUT_IPV6) & (loc[:, F_OFFSET] == 0)]
        if cut_first.size:
            _strip(packets, cut_first)
        ok = loc[:, F_OK] == 1
        if not ok.any():
            return packets
        rows, loc, addr = rows[ok], loc[ok], addr[ok]
        self._expire(int(packets.ts_ns[rows[0]]))
        buf = packets.buf
        strip: list[int] = []
        done: list[tuple[int, Key, bytes]] = []  # (row, key, reassembled IP datagram)
        for i, f, a in zip(rows.tolist(), loc.tolist(), addr.tolist(), strict=True):
            v6 = f[F_V6]
            key = (v6, a[0], a[1], a[2], a[3], 0 if v6 else f[F_PROTO], f[F_ID])
            offset, data = f[F_OFFSET], bytes(buf[f[F_DATA] : f[F_END]])
            if offset + len(data) > MAX_DATAGRAM:
                continue  # beyond any datagram's length: left as decoded
            dg = self._datagram(key, int(packets.ts_ns[i]))
            if not f[F_MORE] and dg.end < 0:
                dg.end = offset + len(data)
            if offset == 0 and not dg.header:
                ip = f[F_IP]
                dg.header, dg.nxt_at, dg.proto = bytes(buf[ip : f[F_HDR_END]]), f[F_NXT_AT] - ip, f[F_PROTO]
            dg.pieces.append((offset, data))
            dg.held += len(data)
            self._bytes += len(data)
            if len(dg.pieces) > self.max_fragments:
                self._drop(key)
                self.dropped += 1
                continue
            datagram = _assemble(dg, v6) if dg.end >= 0 and dg.header and dg.held >= dg.end else None
            if datagram is not None:
                self._drop(key)
                self.reassembled += 1
                done.append((i, key, datagram))
            elif offset == 0:
                strip.append(i)
            self._make_room()
        if strip:
            _strip(packets, np.array(strip, np.int64))
        if done:
            _complete(packets, done)
        return packets

    def limits(self) -> dict[str, int]:
        """Caps applied, and how many datagrams they dropped."""
        return {
            "ip_reassembly_datagrams_open": self.max_open,
            "ip_reassembly_bytes": self.max_bytes,
            "ip_reassembly_dropped": self.dropped,
            "ip_reassembly_timed_out": self.timed_out,
        }

    def _locate(self, packets: PacketTable, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        loc = np.zeros((rows.size, F_COLUMNS), np.int64)
        addr = np.zeros((rows.size, 4), np.uint64)
        offsets = packets.data_offset
        caplen = np.minimum(packets.caplen.astype(np.int64), np.maximum(len(packets.buf) - offsets, 0))
        locate_fragments(
            packets.buf, offsets, caplen, packets.wirelen, packets.linktype, rows.astype(np.int64), loc, addr
        )
        return loc, addr

    def _datagram(self, key: Key, ts_ns: int) -> _Datagram:
        dg = self._open.get(key)
        if dg is not None and ts_ns - dg.first_ns > self.timeout_ns:
            self._drop(key)
            self.timed_out += 1
            dg = None
        if dg is None:
            while len(self._open) >= self.max_open:
                self._drop(next(iter(self._open)))
                self.dropped += 1
            dg = self._open[key] = _Datagram(ts_ns)
        return dg

    def _make_room(self) -> None:
        while self._bytes > self.max_bytes and len(self._open) > 1:
            self._drop(next(iter(self._open)))
            self.dropped += 1

    def _expire(self, now_ns: int) -> None:
        """Drop the datagrams begun more than the timeout before `now_ns` (oldest first)."""
        while self._open:
            key = next(iter(self._open))
            if now_ns - self._open[key].first_ns <= self.timeout_ns:
                return
            self._drop(key)
            self.timed_out += 1

    def _drop(self, key: Key) -> None:
        self._bytes -= self._open.pop(key).held


def _assemble(dg: _Datagram, v6: int) -> bytes | None:
    """The whole IP datagram, or None while bytes are missing (or when it would exceed the IP length).

    Overlaps are resolved as tshark does: fragments are laid down by offset (arrival order among equal
    offsets), and each one adds only the bytes beyond those already laid down."""
    data = bytearray(dg.end)
    laid = 0
    for off, piece in sorted(dg.pieces, key=lambda p: p[0]):  # stable: arrival order among equal offsets
        if off > laid:
            return None  # a hole
        stop = min(off + len(piece), dg.end)
        if stop > laid:
            data[laid:stop] = piece[laid - off : stop - off]
            laid = stop
        if laid >= dg.end:
            break
    if laid < dg.end:
        return None
    header = bytearray(dg.header)
    if v6:
        plen = len(header) - 40 + dg.end
        if plen > MAX_DATAGRAM:
            return None
        header[_IPV6_PLEN : _IPV6_PLEN + 2] = plen.to_bytes(2, "big")
        header[dg.nxt_at] = dg.proto
    else:
        total = len(header) + dg.end
        if total > MAX_DATAGRAM:
            return None
        header[_IPV4_TOTAL_LEN : _IPV4_TOTAL_LEN + 2] = total.to_bytes(2, "big")
        df = header[_IPV4_FLAGS] << 8 & _IPV4_DF
        header[_IPV4_FLAGS : _IPV4_FLAGS + 2] = df.to_bytes(2, "big")  # not a fragment any more
    return bytes(header + data)


def _strip(packets: PacketTable, rows: np.ndarray) -> None:
    """First fragments: no transport fields (tshark shows them as fragments)."""
    for name in _STRIPPED:
        getattr(packets, name)[rows] = 0
    packets.wscale[rows] = -1
    packets.undecoded[rows] = Undecoded.FIRST_FRAGMENT


def _complete(packets: PacketTable, done: list[tuple[int, Key, bytes]]) -> None:
    """Decode the reassembled datagrams, appended to the chunk's bytes, into their completing rows."""
    rows = np.array([i for i, _, _ in done], np.int64)
    sizes = np.array([len(d) for _, _, d in done], np.int64)
    old = packets.buf
    buf = np.concatenate([old, np.frombuffer(b"".join(d for _, _, d in done), np.uint8)])
    starts = len(old) + np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    v6 = np.array([k[0] for _, k, _ in done], np.bool_)
    r = decode_chunk(
        RecordChunk(
            buf=buf,
            data_offset=starts,
            caplen=sizes.astype(np.uint32),
            wirelen=sizes.astype(np.uint32),
            ts_ns=packets.ts_ns[rows],
            linktype=np.where(v6, LINKTYPE_IPV6, LINKTYPE_IPV4).astype(np.uint16),
            first_index=0,
            stream_start=0,
            stream_end=0,
        )
    )
    # A tunnel inside the datagram: the decoder's fields are the inner packet's, as for unfragmented ones.
    key = np.array([k[1:5] for _, k, _ in done], np.uint64).reshape(-1, 4)
    tunnel = (
        (r.l3 != np.where(v6, L3.IPV6, L3.IPV4))
        | (r.src_hi != key[:, 0])
        | (r.src_lo != key[:, 1])
        | (r.dst_hi != key[:, 2])
        | (r.dst_lo != key[:, 3])
    )
    for name in _TRANSPORT:
        getattr(packets, name)[rows] = getattr(r, name)
    if tunnel.any():
        for name in _NETWORK:
            getattr(packets, name)[rows[tunnel]] = getattr(r, name)[tunnel]
        packets.frag[rows[tunnel]] |= FRAG_OUTER
    packets.data_offset = packets.data_offset.copy()  # may be the reader's array
    packets.data_offset[rows] = starts
    packets.caplen[rows] = sizes
    packets.buf = buf
