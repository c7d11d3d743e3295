"""Fast packet bytes for large captures whose truth is known by construction (Ethernet/IPv4/TCP or UDP,
checksums left at 0, which neither the engine nor tshark checks by default)."""

from __future__ import annotations

import random
import socket
import struct
from pathlib import Path

from tests.engine.builders import Rec, write_pcap

_ETHER = bytes(6) + bytes(5) + b"\x01" + b"\x08\x00"


def _ip(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))  # fmt: skip
    return _ETHER + head + payload


def tcp(
    src: str, sport: int, dst: str, dport: int, flags: str, seq: int, ack: int, payload: int = 0
) -> bytes:
    bits = sum({"F": 1, "S": 2, "R": 4, "P": 8, "A": 16}[f] for f in flags)
    head = struct.pack(
        "!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, bits, 65535, 0, 0
    )
    return _ip(src, dst, 6, head + b"x" * payload)


def udp(src: str, sport: int, dst: str, dport: int, payload: bytes) -> bytes:
    return _ip(src, dst, 17, struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)


def dns_message(ident: int, name: str, response: bool, qtype: int = 1) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    flags = 0x8180 if response else 0x0100
    return struct.pack("!6H", ident, flags, 1, 0, 0, 0) + qname + struct.pack("!2H", qtype, 1)


class Trace:
    """Packets at explicit times (seconds), written sorted by time."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.start = start
        self.recs: list[tuple[float, bytes]] = []

    def at(self, t: float, data: bytes) -> None:
        self.recs.append((t, data))

    def write(self, path: Path) -> Path:
        ordered = sorted(self.recs, key=lambda r: r[0])
        return write_pcap(path, (Rec(round((self.start + t) * 1e9), d) for t, d in ordered), nsec=True)


class Conn:
    """One TCP connection client -> server: handshake, then whatever the caller sends, then close."""

    def __init__(self, tr: Trace, client: str, sport: int, server: str, dport: int) -> None:
        self.tr, self.c, self.sp, self.s, self.dp = tr, client, sport, server, dport
        self.cseq, self.sseq = 1000, 50000

    def c2s(self, t: float, flags: str, payload: int = 0, seq: int | None = None) -> None:
        self.tr.at(t, tcp(self.c, self.sp, self.s, self.dp, flags, self.cseq if seq is None else seq,
                          self.sseq if "A" in flags else 0, payload))  # fmt: skip

    def s2c(self, t: float, flags: str, payload: int = 0) -> None:
        self.tr.at(t, tcp(self.s, self.dp, self.c, self.sp, flags, self.sseq, self.cseq, payload))

    def handshake(self, t: float, rtt: float) -> float:
        self.c2s(t, "S")
        self.cseq += 1
        self.s2c(t + rtt, "SA")
        self.sseq += 1
        self.c2s(t + rtt + 0.0001, "A")
        return t + rtt + 0.0001

    def close(self, t: float, rtt: float) -> float:
        self.c2s(t, "FA")
        self.cseq += 1
        self.s2c(t + rtt, "FA")
        self.sseq += 1
        self.c2s(t + rtt + 0.0001, "A")
        return t + rtt + 0.0001


def short_exchanges(tr: Trace, server: str, port: int, count: int, unlucky: int, t0: float = 0.0) -> float:
    """`count` request/response connections (100-byte request, 1,000-byte answer), 1 ms RTT; the
    requests of the first `unlucky` are lost once and resent after a 200 ms timeout. Returns the end."""
    t, rtt = t0, 0.001
    for i in range(count):
        c = Conn(tr, f"10.1.{i // 250}.{i % 250 + 1}", 30000 + i % 30000, server, port)
        u = c.handshake(t, rtt)
        c.c2s(u, "PA", 100)
        if i < unlucky:
            u += 0.2
            c.c2s(u, "PA", 100)  # the same segment again: a timeout-driven retransmission
        c.cseq += 100
        c.s2c(u + rtt, "PA", 1000)
        c.sseq += 1000
        c.c2s(u + rtt + 0.0001, "A")
        c.close(u + rtt + 0.001, rtt)
        t += 0.002
    return t


def lossy_bulk(
    tr: Trace,
    client: str,
    server: str,
    port: int,
    segments: int,
    loss: float,
    seed: int,
    t0: float = 0.0,
    sport: int = 45000,
) -> tuple[int, float, float]:
    """An upload of `segments` 1,000-byte segments, 10 ms RTT, one segment in flight at a time; each
    lost segment (probability `loss`) is resent after a 300 ms timeout. Returns (retransmissions, time
    waited for timeouts, connection duration) as built."""
    rnd = random.Random(seed)
    c = Conn(tr, client, sport, server, port)
    rtt = 0.01
    t = c.handshake(t0, rtt)
    resent, waited = 0, 0.0
    for _ in range(segments):
        c.c2s(t, "PA", 1000)
        while rnd.random() < loss:
            t += 0.3
            waited += 0.3
            resent += 1
            c.c2s(t, "PA", 1000)
        c.cseq += 1000
        c.s2c(t + rtt, "A")
        t += rtt + 0.0001
    end = c.close(t, rtt)
    return resent, waited, end - t0
