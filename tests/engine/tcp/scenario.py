"""Test helper: one TCP connection written packet by packet, with truth known by construction.

`Conv` turns the same packet list into (a) a PacketTable + FlowAssignment for TcpAnalyzer and
(b) a pcap written with scapy through tests/engine/builders.py, for tshark to judge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pcap_analyzer.decode.packets import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, PacketTable
from pcap_analyzer.flows.model import FlowAssignment
from tests.engine.builders import Rec, write_pcap

SYN, ACK, FIN, RST, PSH = TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST, TCP_PSH
T0_NS = 1_700_000_000_000_000_000
CLIENT, SERVER = ("10.0.0.1", 40000), ("10.0.0.2", 80)


@dataclass
class Pkt:
    t_ms: float
    dir: int  # 0 client -> server, 1 server -> client
    flags: int
    seq: int  # relative to the sender's ISN
    ack: int  # relative to the peer's ISN
    win: int
    length: int = 0
    wscale: int = -1


@dataclass
class Conv:
    """A connection; `isn` per direction makes raw numbers realistic (and wrap-prone if wanted)."""

    isn: tuple[int, int] = (1_000_000, 3_000_000_000)
    pkts: list[Pkt] = field(default_factory=list)

    def c(self, t_ms: float, flags: int, seq: int, ack: int, win: int = 1000, length: int = 0,
          wscale: int = -1) -> int:
        """Client -> server packet; returns its 1-based frame number."""
        self.pkts.append(Pkt(t_ms, 0, flags, seq, ack, win, length, wscale))
        return len(self.pkts)

    def s(self, t_ms: float, flags: int, seq: int, ack: int, win: int = 1000, length: int = 0,
          wscale: int = -1) -> int:
        """Server -> client packet; returns its 1-based frame number."""
        self.pkts.append(Pkt(t_ms, 1, flags, seq, ack, win, length, wscale))
        return len(self.pkts)

    def handshake(self, t_ms: float = 0.0, win: int = 1000, ws: tuple[int, int] = (-1, -1)) -> None:
        """SYN at t, SYN/ACK at t+10 ms, ACK at t+20 ms."""
        self.c(t_ms, SYN, 0, 0, win, wscale=ws[0])
        self.s(t_ms + 10, SYN | ACK, 0, 1, win, wscale=ws[1])
        self.c(t_ms + 20, ACK, 1, 1, win)

    def _raw(self, p: Pkt) -> tuple[int, int]:
        seq = (self.isn[p.dir] + p.seq) & 0xFFFFFFFF
        ack = (self.isn[1 - p.dir] + p.ack) & 0xFFFFFFFF if p.flags & ACK else 0
        return seq, ack

    def tables(self) -> tuple[PacketTable, FlowAssignment]:
        """The packets as decoded columns (what decode + flows would produce)."""
        n = len(self.pkts)
        t = PacketTable.empty(n)
        for i, p in enumerate(self.pkts):
            t.frame[i] = i + 1
            t.ts_ns[i] = T0_NS + int(round(p.t_ms * 1e6))
            t.seq[i], t.ack[i] = self._raw(p)
            t.tcp_flags[i], t.win[i], t.payload_len[i], t.wscale[i] = p.flags, p.win, p.length, p.wscale
            t.ip_proto[i] = 6
        dirs = np.array([p.dir for p in self.pkts], np.uint8)
        return t, FlowAssignment(conv=np.zeros(n, np.int64), tcp_stream=np.zeros(n, np.int64), direction=dirs)

    def write(self, path: Path) -> Path:
        """Write the connection as an Ethernet pcap (scapy-built packets)."""
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import Ether

        recs = []
        for p in self.pkts:
            src, dst = (CLIENT, SERVER) if p.dir == 0 else (SERVER, CLIENT)
            seq, ack = self._raw(p)
            opts = [("WScale", p.wscale)] if p.wscale >= 0 else []
            pkt = (Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=src[0], dst=dst[0])
                   / TCP(sport=src[1], dport=dst[1], seq=seq, ack=ack, flags=p.flags, window=p.win,
                         options=opts) / (b"x" * p.length))
            recs.append(Rec(T0_NS + int(round(p.t_ms * 1e6)), bytes(pkt)))
        return write_pcap(path, recs)
