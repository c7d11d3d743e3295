"""Attack traffic written straight into capture files with scapy (seeded; nothing is sent anywhere).

Each writer returns the path of a classic pcap whose attack, attacker and target are known by construction.
"""

from __future__ import annotations

import random
import string
import struct
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from tests.engine.builders import Rec, write_pcap

START = 1_700_000_000.0
ATTACKER = "10.0.0.66"
VICTIM = "10.0.0.9"
CLIENT = "10.0.0.5"
EXTERNAL = "203.0.113.10"


class Trace:
    """Packets at explicit times (seconds), written as one Ethernet pcap."""

    def __init__(self) -> None:
        self.recs: list[Rec] = []

    def add(self, t: float, pkt: Packet | bytes, wirelen: int | None = None) -> None:
        data = bytes(Ether() / pkt) if isinstance(pkt, Packet) else pkt
        self.recs.append(Rec(ts_ns=int(round((START + t) * 1e9)), data=data, wirelen=wirelen))

    def write(self, path: Path) -> Path:
        self.recs.sort(key=lambda r: r.ts_ns)
        return write_pcap(path, self.recs)


def _tcp_session(
    tr: Trace,
    t: float,
    c: str,
    sport: int,
    s: str,
    dport: int,
    up: int,
    down: int,
    end: str = "F",
    rtt: float = 0.002,
) -> float:
    """Handshake, `up` bytes client to server, `down` back, then FIN (or RST by the server); returns the
    time of the last packet."""
    cseq, sseq = 1000, 9000
    tr.add(t, IP(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="S", seq=cseq))
    tr.add(t + rtt, IP(src=s, dst=c) / TCP(sport=dport, dport=sport, flags="SA", seq=sseq, ack=cseq + 1))
    cseq, sseq = cseq + 1, sseq + 1
    t += 2 * rtt
    tr.add(t, IP(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="A", seq=cseq, ack=sseq))
    if up:
        t += rtt
        tr.add(
            t, IP(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="PA", seq=cseq, ack=sseq) / (b"u" * up)
        )
        cseq += up
    if down:
        t += rtt
        tr.add(
            t,
            IP(src=s, dst=c) / TCP(sport=dport, dport=sport, flags="PA", seq=sseq, ack=cseq) / (b"d" * down),
        )
        sseq += down
    t += rtt
    if end == "R":
        tr.add(t, IP(src=s, dst=c) / TCP(sport=dport, dport=sport, flags="RA", seq=sseq, ack=cseq))
        return t
    tr.add(t, IP(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="FA", seq=cseq, ack=sseq))
    tr.add(t + rtt, IP(src=s, dst=c) / TCP(sport=dport, dport=sport, flags="FA", seq=sseq, ack=cseq + 1))
    tr.add(
        t + 2 * rtt, IP(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="A", seq=cseq + 1, ack=sseq + 1)
    )
    return t + 2 * rtt


PROBE_FLAGS = {"SYN": "S", "FIN": "F", "NULL": "", "XMAS": "FPU"}


def port_scan(path: Path, flavour: str = "SYN", ports: int = 100, seed: int = 1) -> Path:
    """`ATTACKER` probes `ports` ports of `VICTIM`; a few are open (SYN/ACK for SYN probes, silence for the
    others), the rest answer RST."""
    rng = random.Random(seed)
    tr = Trace()
    targets = rng.sample(range(1, 10_000), ports)
    open_ports = set(rng.sample(targets, 5))
    for i, port in enumerate(targets):
        t = i * 0.002
        sport = 40000 + rng.randrange(20000)
        tr.add(
            t, IP(src=ATTACKER, dst=VICTIM) / TCP(sport=sport, dport=port, flags=PROBE_FLAGS[flavour], seq=7)
        )
        if port in open_ports:
            if flavour == "SYN":
                tr.add(
                    t + 0.0005, IP(src=VICTIM, dst=ATTACKER) / TCP(sport=port, dport=sport, flags="SA", ack=8)
                )
                tr.add(
                    t + 0.001, IP(src=ATTACKER, dst=VICTIM) / TCP(sport=sport, dport=port, flags="R", seq=8)
                )
        else:
            tr.add(t + 0.0005, IP(src=VICTIM, dst=ATTACKER) / TCP(sport=port, dport=sport, flags="RA", ack=8))
    return tr.write(path)


def sweep(path: Path, port: int = 445, hosts: int = 40, seed: int = 2) -> Path:
    """`ATTACKER` sends SYNs to `port` on `hosts` addresses of 10.0.1.0/24; most never answer."""
    rng = random.Random(seed)
    tr = Trace()
    for i in range(hosts):
        t = i * 0.01
        dst = f"10.0.1.{i + 1}"
        sport = 40000 + rng.randrange(20000)
        tr.add(t, IP(src=ATTACKER, dst=dst) / TCP(sport=sport, dport=port, flags="S"))
        if i % 10 == 0:
            tr.add(t + 0.001, IP(src=dst, dst=ATTACKER) / TCP(sport=port, dport=sport, flags="RA", ack=1))
    return tr.write(path)


def syn_flood(path: Path, syns: int = 1500, rate: float = 1000.0, seed: int = 3) -> Path:
    """Spoofed sources send SYNs to VICTIM:80, which answers each with SYN/ACK; no handshake completes."""
    rng = random.Random(seed)
    tr = Trace()
    for i in range(syns):
        t = i / rate
        src = f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        sport = rng.randrange(1024, 65535)
        tr.add(t, IP(src=src, dst=VICTIM) / TCP(sport=sport, dport=80, flags="S", seq=rng.randrange(1 << 32)))
        tr.add(t + 0.0002, IP(src=VICTIM, dst=src) / TCP(sport=80, dport=sport, flags="SA", seq=5, ack=1))
    return tr.write(path)


def udp_flood(path: Path, packets: int = 12_000, rate: float = 6000.0, seed: int = 4) -> Path:
    """ATTACKER sends UDP datagrams to random ports of VICTIM; nothing comes back."""
    rng = random.Random(seed)
    tr = Trace()
    template = bytes(Ether() / IP(src=ATTACKER, dst=VICTIM) / UDP(sport=5555, dport=9) / (b"x" * 64))
    for i in range(packets):
        data = bytearray(template)
        struct.pack_into("!HH", data, 34, rng.randrange(1024, 65535), rng.randrange(1, 65535))
        tr.add(i / rate, bytes(data))
    return tr.write(path)


def icmp_flood(path: Path, packets: int = 1500, rate: float = 500.0) -> Path:
    """ATTACKER pings VICTIM `rate` times a second; no reply."""
    tr = Trace()
    for i in range(packets):
        tr.add(i / rate, IP(src=ATTACKER, dst=VICTIM) / ICMP(type=8, id=7, seq=i) / (b"p" * 56))
    return tr.write(path)


def brute_force(path: Path, attempts: int = 30, seed: int = 5) -> Path:
    """ATTACKER opens `attempts` short SSH sessions to VICTIM at irregular intervals; each ends in a reset."""
    rng = random.Random(seed)
    tr = Trace()
    t = 0.0
    for i in range(attempts):
        _tcp_session(
            tr,
            t,
            ATTACKER,
            50000 + i,
            VICTIM,
            22,
            up=rng.randrange(600, 900),
            down=rng.randrange(900, 1300),
            end="R",
            rtt=0.3,
        )
        t += rng.uniform(1.0, 6.0)
    return tr.write(path)


def _b32(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase + "234567") for _ in range(n))


def dns_tunnel(path: Path, queries: int = 120, seed: int = 6, ordinary: int = 0) -> Path:
    """CLIENT sends TXT queries whose names carry base32 data under tun.example-c2.com, via 10.0.0.53,
    after `ordinary` A queries for www.example-c2.com (and one more after every 10th tunnel query)."""
    rng = random.Random(seed)
    tr = Trace()
    t = 0.0
    for i in range(ordinary + queries // 10 if ordinary else 0):
        at = i * 0.05 if i < ordinary else (i - ordinary) * 10 * 0.3 + 0.15 + ordinary * 0.05
        q = (
            IP(src=CLIENT, dst="10.0.0.53")
            / UDP(sport=20000 + i, dport=53)
            / DNS(id=60000 + i, rd=1, qd=DNSQR(qname="www.example-c2.com", qtype="A"))
        )
        tr.add(at, q)
    t = ordinary * 0.05 + 0.01
    for i in range(queries):
        name = f"{_b32(rng, 52)}.{_b32(rng, 12)}.tun.example-c2.com"
        q = (
            IP(src=CLIENT, dst="10.0.0.53")
            / UDP(sport=30000 + i, dport=53)
            / DNS(id=i, rd=1, qd=DNSQR(qname=name, qtype="TXT"))
        )
        tr.add(t, q)
        r = (
            IP(src="10.0.0.53", dst=CLIENT)
            / UDP(sport=53, dport=30000 + i)
            / DNS(id=i, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype="TXT"))
        )
        tr.add(t + 0.02, r)
        t += rng.uniform(0.1, 0.5) if not ordinary else 0.3
    return tr.write(path)


def beacon(path: Path, count: int = 12, interval: float = 60.0, seed: int = 7) -> Path:
    """CLIENT connects to EXTERNAL:443 every `interval` s (+-1 %), same sizes each time."""
    rng = random.Random(seed)
    tr = Trace()
    for i in range(count):
        t = i * interval + rng.uniform(-0.005, 0.005) * interval
        _tcp_session(tr, t, CLIENT, 51000 + i, EXTERNAL, 443, up=310, down=1200)
    return tr.write(path)


def exfiltration(path: Path, mib: int = 120) -> Path:
    """CLIENT uploads `mib` MiB to the external address 192.0.2.99 in one TCP connection.

    Data segments are captured as headers only (snap length 54), their wire length and IP total length
    telling the full 1460-byte payload, so the file stays small."""
    tr = Trace()
    dst = "192.0.2.99"
    _tcp_session(tr, 0.0, CLIENT, 52000, dst, 443, up=0, down=0)
    tr.recs = tr.recs[:3]  # keep the handshake, the transfer follows
    seg = bytes(
        Ether() / IP(src=CLIENT, dst=dst, len=1500) / TCP(sport=52000, dport=443, flags="A", seq=1001)
    )
    ack = bytes(Ether() / IP(src=dst, dst=CLIENT) / TCP(sport=443, dport=52000, flags="A", seq=9001))
    segments = mib * (1 << 20) // 1460
    for i in range(segments):
        data = bytearray(seg[:54])
        struct.pack_into("!I", data, 38, (1001 + i * 1460) & 0xFFFFFFFF)
        tr.add(0.01 + i * 0.0001, bytes(data), wirelen=1514)
        if i % 20 == 19:
            a = bytearray(ack)
            struct.pack_into("!I", a, 42, (1001 + (i + 1) * 1460) & 0xFFFFFFFF)
            tr.add(0.01 + i * 0.0001 + 0.00005, bytes(a))
    return tr.write(path)


def lateral_movement(path: Path, hosts: int = 6) -> Path:
    """CLIENT holds SMB sessions (data both ways) with `hosts` internal hosts within a minute."""
    tr = Trace()
    for i in range(hosts):
        _tcp_session(tr, i * 7.0, CLIENT, 53000 + i, f"10.0.2.{10 + i}", 445, up=200 + i, down=300 + 2 * i)
    return tr.write(path)
