"""A capture with known DNS, RTP, fragmentation and gap content, written with scapy (test helper)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

T0 = 1_700_000_000.0
CLIENT, SERVER = "10.1.0.1", "10.1.0.53"
RTP_SRC, RTP_DST = ("10.2.0.1", 40000), ("10.2.0.2", 50000)
RTP_PACKETS, RTP_LOST_SEQ = 100, 1050
GAP_S = 5.0

# (query time, DNS id, client port, name, answer delay s or None, rcode, re-sent after s or None)
DNS_CASES = [
    (0.000, 1, 3001, "ok.test", 0.012, 0, None),
    (0.100, 2, 3002, "retx.test", 1.030, 0, 1.0),
    (0.200, 3, 3003, "nx.test", 0.020, 3, None),
    (0.300, 4, 3003, "fail.test", 0.008, 2, None),
    (0.400, 5, 3004, "slow.test", 2.500, 0, None),
    (0.500, 6, 3005, "lost.test", None, 0, None),
]
# a client reusing DNS id 7 on one socket before the first answer: (time, name); the answer is to the 2nd
ID_REUSE = [(0.600, "first.test"), (0.650, "second.test")]


def _at(p: Packet, t: float) -> Packet:
    p.time = T0 + t
    return p


def _dns() -> list[Packet]:
    out = []
    for t, ident, port, name, delay, rcode, resend in DNS_CASES:
        q = (
            Ether()
            / IP(src=CLIENT, dst=SERVER)
            / UDP(sport=port, dport=53)
            / DNS(id=ident, rd=1, qd=DNSQR(qname=name))
        )
        out.append(_at(q, t))
        if resend is not None:
            out.append(_at(q.copy(), t + resend))
        if delay is not None:
            r = (
                Ether()
                / IP(src=SERVER, dst=CLIENT)
                / UDP(sport=53, dport=port)
                / DNS(id=ident, qr=1, rd=1, ra=1, rcode=rcode, qd=DNSQR(qname=name))
            )
            out.append(_at(r, t + delay))
    for t, name in ID_REUSE:
        q = (
            Ether()
            / IP(src=CLIENT, dst=SERVER)
            / UDP(sport=3006, dport=53)
            / DNS(id=7, rd=1, qd=DNSQR(qname=name))
        )
        out.append(_at(q, t))
    r = (
        Ether()
        / IP(src=SERVER, dst=CLIENT)
        / UDP(sport=53, dport=3006)
        / DNS(id=7, qr=1, rd=1, ra=1, qd=DNSQR(qname=ID_REUSE[1][1]))
    )
    out.append(_at(r, 0.700))
    return out


def _rtp() -> list[Packet]:
    rng = np.random.default_rng(11)
    out = []
    for k in range(RTP_PACKETS + 1):
        seq = 1000 + k
        if seq == RTP_LOST_SEQ:
            continue
        hdr = struct.pack("!BBHII", 0x80, 0, seq, 5000 + 160 * k, 0x1234ABCD)
        p = (
            Ether()
            / IP(src=RTP_SRC[0], dst=RTP_DST[0])
            / UDP(sport=RTP_SRC[1], dport=RTP_DST[1])
            / Raw(hdr + bytes(160))
        )
        out.append(_at(p, 4.0 + 0.02 * k + float(rng.uniform(0, 0.003))))
    return out


def _fragments(t: float) -> list[Packet]:
    payload = Raw(bytes(range(256)) * 12)  # 3072 bytes
    ok = fragment(IP(src="10.3.0.1", dst="10.3.0.2", id=0x1111) / UDP(sport=1, dport=2) / payload, 1480)
    bad = fragment(IP(src="10.3.0.1", dst="10.3.0.2", id=0x2222) / UDP(sport=1, dport=2) / payload, 1480)
    del bad[1]  # the middle fragment never arrives
    v6 = fragment6(
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrFragment(id=0x3333)
        / UDP(sport=1, dport=2)
        / payload,
        1280,
    )
    frames = [Ether() / f for f in ok + bad] + [Ether() / f for f in v6]
    return [_at(f, t + 0.001 * i) for i, f in enumerate(frames)]


def write_scenario(path: Path) -> Path:
    """DNS cases (t 0-3 s), RTP with one lost sequence (t 4-6 s), a GAP_S silence, then fragments."""
    pkts = _dns() + _rtp()
    last = max(float(p.time) for p in pkts) - T0
    pkts += _fragments(last + GAP_S)
    pkts.sort(key=lambda p: float(p.time))
    wrpcap(str(path), pkts)
    return path
