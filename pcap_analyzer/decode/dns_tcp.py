"""DNS over TCP (RFC 1035 4.2.2, RFC 7766): messages reassembled from the byte stream of each direction.

Each message is a 2-byte length then the message; one segment may hold several messages, or a part of one,
and a length may be cut from its message. The reassembly follows tshark 4.0 (default preferences:
tcp.desegment_tcp_streams on, tcp.reassemble_out_of_order off, tcp.no_subdissector_on_error on):
- a message belongs to the frame that completes it (where tshark dissects the reassembled PDU);
- a segment starting before the highest sequence number seen in its direction (a retransmission, an
  out-of-order or keep-alive segment) is skipped entirely: its bytes are never used twice;
- after a gap (a segment not captured) the message it cut is lost; a segment starting past that message's
  end starts a new message at its first byte, as does the first segment seen of a connection;
- a segment whose bytes are cut by the snapshot length starts a message at its first byte and yields the
  messages whose header it holds; the next segment starts afresh (tshark cannot reassemble it either).

Only the TCP segments to or from a DNS-over-TCP port are looked at (a NumPy mask over the chunk), one Python
step each: they are a tiny share of any capture. Memory is bounded: at most `max_streams` directions are
kept (the least recently used one is forgotten beyond), each with the first `HEAD_BYTES` of the message in
progress only (the header and question are what the analyzers read; the rest is counted, not kept).
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pcap_analyzer.decode.dns import DNS_LEN, DNS_PORT, MDNS_PORT, TCP_LENGTH_PREFIX
from pcap_analyzer.decode.packets import TCP_FIN, TCP_RST, TCP_SYN, PacketTable

# tshark 4.0 dissects DNS on TCP ports 53 and 5353 (DNS_PORT, MDNS_PORT), not on LLMNR's 5355
HEAD_BYTES = 1024  # kept of each message: its header and first question (a name is at most 255 bytes)
_SEQ_MOD = 1 << 32
_HALF = 1 << 31
_IPPROTO_TCP = 6
_HEADER = struct.Struct("!HHHH")  # id, flags, QDCOUNT, ANCOUNT


@dataclass(slots=True)
class DnsMessages:
    """The DNS messages completed in one chunk, in frame order.

    `row` is the packet row (in the chunk) of the frame that completed each message; `qname_offset` points
    into `buf`, which holds the first `HEAD_BYTES` of every message one after the other (0 = no question).
    """

    row: npt.NDArray[np.int64]
    dns_id: npt.NDArray[np.uint16]
    dns_flags: npt.NDArray[np.uint16]
    dns_qtype: npt.NDArray[np.uint16]
    qname_offset: npt.NDArray[np.uint32]
    buf: npt.NDArray[np.uint8]

    def __len__(self) -> int:
        return int(self.row.shape[0])


class _Direction:
    """Reassembly state of one direction of one connection."""

    __slots__ = ("dead", "got", "head", "need", "next_seq")

    def __init__(self, next_seq: int) -> None:
        self.next_seq = next_seq  # highest sequence number seen + 1 (tshark's nextseq)
        self.head = bytearray()  # the message in progress: its length prefix and first bytes
        self.need = 0  # its whole size with the prefix, 0 while the prefix is incomplete
        self.got = 0  # its bytes seen so far, prefix included
        self.dead = False  # a gap cut it: it ends where its length says, but is not a message

    def restart(self) -> None:
        self.head.clear()
        self.need = self.got = 0
        self.dead = False


def _question_type(msg: bytes) -> tuple[int, int]:
    """(QTYPE, offset of the first QNAME) of a message's first question; (0, 0) without one."""
    if _HEADER.unpack_from(msg, 0)[2] == 0 or len(msg) <= DNS_LEN:
        return 0, 0
    q = DNS_LEN
    for _ in range(128):
        if q >= len(msg):
            return 0, DNS_LEN
        n = msg[q]
        if n == 0:
            q += 1
            break
        if n & 0xC0 == 0xC0:
            q += 2
            break
        if n & 0xC0:
            return 0, DNS_LEN
        q += 1 + n
    else:
        return 0, DNS_LEN
    qtype = (msg[q] << 8) | msg[q + 1] if q + 2 <= len(msg) else 0
    return qtype, DNS_LEN


class DnsTcpReassembler:
    """Reassembles DNS messages over TCP chunk after chunk (see the module docstring)."""

    def __init__(self, max_streams: int = 4096) -> None:
        self.max_streams = max_streams
        self._streams: OrderedDict[tuple[int, ...], _Direction] = OrderedDict()

    @property
    def streams(self) -> int:
        """Directions currently kept."""
        return len(self._streams)

    def update(self, p: PacketTable) -> DnsMessages:
        """The messages completed in chunk `p`; also marks the frames that complete them in `p`'s DNS
        columns (`is_dns` and the first completed message's header; `dns_qname_offset` only when that
        message starts in the same frame, else 0)."""
        sport, dport = p.sport, p.dport
        on_port = (sport == DNS_PORT) | (dport == DNS_PORT) | (sport == MDNS_PORT) | (dport == MDNS_PORT)
        rows = np.flatnonzero(on_port)  # few rows: the other tests run on them only
        tcp = (p.ip_proto[rows] == _IPPROTO_TCP) & (p.l4_offset[rows] > 0) & (p.tcp_hdr_len[rows] > 0)
        moves = (p.payload_len[rows] > 0) | ((p.tcp_flags[rows] & (TCP_SYN | TCP_FIN | TCP_RST)) != 0)
        rows = rows[tcp & moves]  # not bare ACKs
        out_rows: list[int] = []
        heads: list[bytes] = []
        starts: list[int] = []  # where each message (after its length) starts in p.buf; -1: an earlier frame
        if rows.size:
            cols = (
                rows.tolist(),
                p.src_hi[rows].tolist(),
                p.src_lo[rows].tolist(),
                p.sport[rows].tolist(),
                p.dst_hi[rows].tolist(),
                p.dst_lo[rows].tolist(),
                p.dport[rows].tolist(),
                p.seq[rows].tolist(),
                p.tcp_flags[rows].tolist(),
                p.payload_len[rows].tolist(),
                (p.data_offset[rows] + p.l4_offset[rows] + p.tcp_hdr_len[rows]).tolist(),
                (p.data_offset[rows] + p.caplen[rows]).tolist(),
            )
            buf = p.buf
            for i, shi, slo, sp, dhi, dlo, dp, seq, flags, length, start, end in zip(*cols, strict=True):
                key = (shi, slo, sp, dhi, dlo, dp)
                data = bytes(buf[start : min(end, start + length)]) if length else b""
                for msg_start, head in self._segment(key, seq, flags, length, data, start):
                    out_rows.append(i)
                    heads.append(head)
                    starts.append(msg_start)
        return self._messages(p, out_rows, heads, starts)

    def _direction(self, key: tuple[int, ...], seq: int, flags: int) -> _Direction:
        st = self._streams.get(key)
        if flags & TCP_SYN or st is None:
            st = _Direction((seq + (1 if flags & TCP_SYN else 0)) % _SEQ_MOD)
            self._streams[key] = st
            if len(self._streams) > self.max_streams:
                self._streams.popitem(last=False)
        self._streams.move_to_end(key)
        return st

    def _segment(
        self, key: tuple[int, ...], seq: int, flags: int, length: int, data: bytes, start: int
    ) -> list[tuple[int, bytes]]:
        """Feed one segment; (start in the chunk's buffer or -1, first bytes) of each message it completes."""
        st = self._direction(key, seq, flags)
        if flags & TCP_SYN:
            seq = (seq + 1) % _SEQ_MOD
        done: list[tuple[int, bytes]] = []
        ahead = (seq - st.next_seq) % _SEQ_MOD
        if length and ahead < _HALF:  # else before the highest byte seen: retransmitted or out of order
            if ahead:  # bytes never captured
                self._gap(st, ahead)
            st.next_seq = (seq + length) % _SEQ_MOD
            if len(data) < length:  # cut by the snapshot length: no reassembly
                st.restart()
                done = self._truncated(data, start)
            else:
                done = self._consume(st, data, start)
        if flags & (TCP_FIN | TCP_RST):
            self._streams.pop(key, None)
        return done

    @staticmethod
    def _gap(st: _Direction, missing: int) -> None:
        """`missing` bytes were not captured before the next segment."""
        if st.need and st.got + missing < st.need:
            st.got += missing
            st.dead = True
        else:  # the cut message (if any) ended in the gap: the next segment starts a message
            st.restart()

    @staticmethod
    def _consume(st: _Direction, data: bytes, start: int) -> list[tuple[int, bytes]]:
        done: list[tuple[int, bytes]] = []
        pos, n = 0, len(data)
        body = -1  # where the message in progress starts in the chunk's buffer (-1: in an earlier frame)
        while pos < n:
            if not st.need:  # the length prefix
                take = min(TCP_LENGTH_PREFIX - st.got, n - pos)
                st.head += data[pos : pos + take]
                st.got += take
                pos += take
                if st.got == TCP_LENGTH_PREFIX:
                    st.need = TCP_LENGTH_PREFIX + ((st.head[0] << 8) | st.head[1])
                    if st.need == TCP_LENGTH_PREFIX:  # an empty message
                        st.restart()
                continue
            if st.got == TCP_LENGTH_PREFIX:
                body = start + pos
            take = min(st.need - st.got, n - pos)
            room = HEAD_BYTES + TCP_LENGTH_PREFIX - len(st.head)
            if room > 0:
                st.head += data[pos : pos + min(take, room)]
            st.got += take
            pos += take
            if st.got == st.need:
                if not st.dead and st.need >= TCP_LENGTH_PREFIX + DNS_LEN:
                    done.append((body, bytes(st.head[TCP_LENGTH_PREFIX:])))
                st.restart()
                body = -1
        return done

    @staticmethod
    def _truncated(data: bytes, start: int) -> list[tuple[int, bytes]]:
        """The messages whose header a cut segment holds, reading it as starting with a message."""
        done: list[tuple[int, bytes]] = []
        pos = 0
        while pos + TCP_LENGTH_PREFIX + DNS_LEN <= len(data):
            size = (data[pos] << 8) | data[pos + 1]
            body = pos + TCP_LENGTH_PREFIX
            if size >= DNS_LEN:
                done.append((start + body, data[body : body + min(size, HEAD_BYTES)]))
            pos = body + size
        return done

    @staticmethod
    def _messages(p: PacketTable, rows: list[int], heads: list[bytes], starts: list[int]) -> DnsMessages:
        m = len(rows)
        row = np.asarray(rows, np.int64)
        ident, flags, qtype = (np.zeros(m, np.uint16) for _ in range(3))
        qoff = np.zeros(m, np.uint32)
        offsets = np.zeros(m, np.int64)
        at = 0
        for j, head in enumerate(heads):
            ident[j], flags[j], qd, an = _HEADER.unpack_from(head, 0)
            qt, name = _question_type(head)
            qtype[j] = qt
            if name:
                qoff[j] = at + name
            offsets[j] = at
            at += len(head)
            first = j == 0 or rows[j - 1] != rows[j]
            if first:  # the frame's DNS columns: its first completed message
                i = rows[j]
                p.is_dns[i] = True
                p.dns_id[i], p.dns_flags[i], p.dns_qdcount[i], p.dns_ancount[i] = ident[j], flags[j], qd, an
                p.dns_qtype[i] = qt
                p.dns_qname_offset[i] = starts[j] + name if name and starts[j] >= 0 else 0
        buf = np.frombuffer(b"".join(heads), np.uint8) if heads else np.zeros(0, np.uint8)
        return DnsMessages(row, ident, flags, qtype, qoff, buf)
