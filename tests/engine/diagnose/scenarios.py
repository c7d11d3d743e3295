"""Captures with known problems, built packet by packet with scapy (truth known by construction)."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import wrpcap

MSS = 1000


class Capture:
    """Packets with explicit timestamps, written as one classic pcap."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start
        self.packets: list[Packet] = []

    def add(self, pkt: Packet, dt: float = 0.001) -> int:
        """Append `pkt` `dt` seconds after the previous one; returns its 1-based frame number."""
        self.t += dt
        p = Ether() / pkt
        p.time = self.t
        self.packets.append(p)
        return len(self.packets)

    def write(self, path: Path) -> Path:
        wrpcap(str(path), self.packets)
        return path


class TcpConn:
    """One TCP connection seen from the client's side."""

    def __init__(self, cap: Capture, client: str, sport: int, server: str, dport: int, window: int = 65535):
        self.cap, self.c, self.s, self.sp, self.dp, self.win = cap, client, server, sport, dport, window
        self.cseq, self.sseq = 1000, 5000

    def c2s(self, flags: str, payload: int = 0, seq: int | None = None, dt: float = 0.001) -> int:
        pkt = IP(src=self.c, dst=self.s) / TCP(
            sport=self.sp,
            dport=self.dp,
            flags=flags,
            seq=self.cseq if seq is None else seq,
            ack=self.sseq if "A" in flags else 0,
            window=self.win,
        )
        return self.cap.add(pkt / (b"x" * payload) if payload else pkt, dt)

    def s2c(self, flags: str, ack: int | None = None, window: int | None = None, dt: float = 0.001) -> int:
        pkt = IP(src=self.s, dst=self.c) / TCP(
            sport=self.dp,
            dport=self.sp,
            flags=flags,
            seq=self.sseq,
            ack=self.cseq if ack is None else ack,
            window=self.win if window is None else window,
        )
        return self.cap.add(pkt, dt)

    def handshake(self) -> None:
        self.c2s("S")
        self.cseq += 1
        self.sseq_syn = self.sseq
        self.s2c("SA")
        self.sseq += 1
        self.c2s("A")

    def close(self) -> None:
        self.c2s("FA")
        self.cseq += 1
        self.s2c("FA")
        self.sseq += 1
        self.c2s("A")


def lossy_transfer(
    cap: Capture, client: str, server: str, port: int, segments: int, lost: set[int]
) -> list[int]:
    """Upload `segments` segments; each index in `lost` is dropped after capture and retransmitted
    after a 200 ms timeout. Returns the frame numbers of the retransmissions."""
    conn = TcpConn(cap, client, 40000 + len(cap.packets) % 20000, server, port)
    conn.handshake()
    retrans = []
    for i in range(segments):
        seq = conn.cseq
        conn.c2s("PA", MSS)
        conn.cseq += MSS
        if i in lost:
            # the receiver never got it: no ACK; the sender times out and resends
            retrans.append(conn.c2s("PA", MSS, seq=seq, dt=0.2))
        conn.s2c("A", dt=0.0005)
    conn.close()
    return retrans


def zero_window_receiver(cap: Capture, client: str, server: str, port: int, zero_windows: int) -> list[int]:
    """Upload to a server that advertises a zero window `zero_windows` times, then reopens it."""
    conn = TcpConn(cap, client, 41000, server, port)
    conn.handshake()
    frames = []
    for _ in range(zero_windows):
        conn.c2s("PA", MSS)
        conn.cseq += MSS
        frames.append(conn.s2c("A", window=0))
        conn.s2c("A", window=65535, dt=0.05)  # window update
    conn.close()
    return frames


def refused_connections(cap: Capture, client: str, server: str, port: int, count: int) -> list[int]:
    """`count` SYNs each answered by RST/ACK."""
    firsts = []
    for i in range(count):
        conn = TcpConn(cap, client, 42000 + i, server, port)
        firsts.append(conn.c2s("S"))
        conn.cseq += 1
        conn.sseq = 0
        conn.s2c("RA")
    return firsts


def dns_queries(cap: Capture, client: str, server: str, count: int, unanswered: set[int]) -> list[int]:
    """`count` A queries; those whose index is in `unanswered` get no response. Returns their frames."""
    missing = []
    for i in range(count):
        q = (
            IP(src=client, dst=server)
            / UDP(sport=50000 + i, dport=53)
            / DNS(id=i, rd=1, qd=DNSQR(qname=f"h{i}.example."))
        )
        frame = cap.add(q)
        if i in unanswered:
            missing.append(frame)
            continue
        r = (
            IP(src=server, dst=client)
            / UDP(sport=53, dport=50000 + i)
            / DNS(id=i, qr=1, rd=1, ra=1, qd=DNSQR(qname=f"h{i}.example."))
        )
        cap.add(r, 0.004)
    return missing
