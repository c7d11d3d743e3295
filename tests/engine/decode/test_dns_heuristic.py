"""DNS over UDP on ports that are not DNS's, found as tshark 4.0's heuristic finds it: frame by frame against
tshark on real captures (tests/data/dns_ports) and on header fields at the heuristic's limits."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from pcap_analyzer.capture.open import open_capture
from pcap_analyzer.decode import decode_chunk
from pcap_analyzer.decode.dns import HEUR_CLAIMED_UDP_PORTS
from tests.engine.builders import Rec, write_pcap

TSHARK = shutil.which("tshark")
DATA = Path(__file__).resolve().parents[2] / "data" / "dns_ports"
ORACLE = json.loads((DATA / "oracle.json").read_text())["captures"]
# tshark's choice per port: of 256 queries to it and 256 answers from it, how many it shows as DNS
PORT_TABLE = json.loads((DATA / "port_table.json").read_text())
SAMPLES = PORT_TABLE["samples"]
SHOWN = {int(p): tuple(c) for p, c in PORT_TABLE["dns"].items()}
DIRECTIONAL = {1985, 2029, 8755}  # HSRP: what is sent to it; openSAFETY: what comes from it
# dissectors that take some DNS messages and reject others (by the first bytes or the length)
PAYLOAD_DEPENDENT = {p for p, (q, r) in SHOWN.items() if 0 < q + r < 2 * SAMPLES} - DIRECTIONAL


def _dns_frames(path: Path) -> dict[int, tuple[int, int, int]]:
    """Engine: frame -> (QR bit, sport, dport) of the UDP frames it decodes as DNS."""
    out = {}
    with open_capture(path) as reader:
        for chunk in reader:
            t = decode_chunk(chunk)
            for i in np.flatnonzero(t.is_dns & (t.ip_proto == 17)).tolist():
                out[int(t.frame[i])] = (int(t.dns_flags[i]) >> 15, int(t.sport[i]), int(t.dport[i]))
    return out


def _tshark_frames(path: Path) -> dict[int, int]:
    cmd = [TSHARK or "tshark", "-n", "-2", "-r", str(path), "-T", "fields", "-E", "occurrence=f"]
    out = subprocess.run([*cmd, "-e", "frame.number", "-e", "dns.flags.response"], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return {int(n): int(qr) for n, qr in (line.split("\t") for line in out.splitlines()) if qr}


def test_dns_on_other_ports_is_tsharks_frame_by_frame() -> None:
    """DNS on 5300, 443 and 161 (SNMP rejects it) found; the 101-answer and 11-additional responses, DNS
    on NTP's, syslog's and NetBIOS's ports, random bytes, QUIC, RTP, SNMP, DHCP not."""
    ours = _dns_frames(DATA / "dns_ports.pcap")
    want = {int(f): qr for f, qr in ORACLE["dns_ports.pcap"]["dns_frames"].items()}
    assert {f: v[0] for f, v in ours.items()} == want
    assert {v[1] for v in ours.values()} | {v[2] for v in ours.values()} >= {5300, 443, 161}
    assert len(want) == 22


def test_claimed_ports_are_where_tshark_mostly_does_not_find_dns() -> None:
    """HEUR_CLAIMED_UDP_PORTS: the ports whose dissector takes more than half of the DNS messages."""
    assert np.all(np.diff(HEUR_CLAIMED_UDP_PORTS) > 0)  # sorted: looked up by binary search
    claimed = {p for p, (q, r) in SHOWN.items() if q + r < SAMPLES and p not in DIRECTIONAL}
    assert set(HEUR_CLAIMED_UDP_PORTS.tolist()) == claimed
    assert {p: SHOWN[p] for p in DIRECTIONAL} == {1985: (0, SAMPLES), 2029: (0, SAMPLES), 8755: (SAMPLES, 0)}
    assert len(SHOWN) > 300 and 123 in claimed and 137 in claimed and 161 not in claimed


def test_real_dns_on_every_registered_port_is_tsharks() -> None:
    """One real DNS query and answer per UDP port with a tshark dissector: DNS exactly where tshark shows it,
    except on the ports where tshark's choice depends on the message."""
    ours = _dns_frames(DATA / "dns_port_table.pcap")
    want = {int(f): qr for f, qr in ORACLE["dns_port_table.pcap"]["dns_frames"].items()}
    ports = {}  # frame -> the server's port (the client's is 45000)
    with open_capture(DATA / "dns_port_table.pcap") as reader:
        for chunk in reader:
            t = decode_chunk(chunk)
            for f, s, d in zip(t.frame.tolist(), t.sport.tolist(), t.dport.tolist(), strict=True):
                ports[f] = d if s == 45000 else s
    assert {ports[f] for f in set(want) ^ set(ours)} <= PAYLOAD_DEPENDENT
    assert all(ours[f][0] == want[f] for f in set(want) & set(ours))
    assert set(ports.values()) >= set(SHOWN) and len(want) > 250


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
@pytest.mark.parametrize("name", sorted(ORACLE))
def test_oracle_is_live_tsharks(name: str) -> None:
    assert _tshark_frames(DATA / name) == {int(f): qr for f, qr in ORACLE[name]["dns_frames"].items()}


def _header(flags: int, qd: int, an: int, ns: int, ar: int) -> bytes:
    return struct.pack("!HHHHHH", 0x4A4A, flags, qd, an, ns, ar)


QUESTION = b"\x03www\x07example\x04test\x00\x00\x01\x00\x01"
LIMITS = [  # (header fields, bytes after the header)
    ((0x0100, 1, 0, 0, 0), QUESTION),
    ((0x0900, 1, 0, 0, 0), QUESTION),  # opcode 1 (inverse query)
    ((0x2800, 1, 0, 0, 0), QUESTION),  # opcode 5 (update)
    ((0x0100, 2, 0, 0, 0), QUESTION * 2),
    ((0x0100, 0, 0, 0, 0), QUESTION),
    ((0x0100, 1, 1, 0, 0), QUESTION + bytes(16)),
    ((0x0100, 1, 0, 1, 0), QUESTION + bytes(16)),
    ((0x0100, 1, 0, 0, 10), QUESTION + bytes(110)),
    ((0x0100, 1, 0, 0, 11), QUESTION + bytes(121)),
    ((0x8180, 0, 1, 0, 0), bytes(11)),
    ((0x8180, 0, 0, 0, 1), bytes(11)),  # no question, no answer: still taken
    ((0x8183, 1, 0, 0, 0), QUESTION),
    ((0x8180, 2, 1, 0, 0), QUESTION * 2),
    ((0x8180, 1, 100, 0, 0), QUESTION + bytes(8)),  # counts are not checked against the length
    ((0x8180, 1, 101, 0, 0), QUESTION + bytes(8)),
    ((0x8180, 1, 1, 10, 10), QUESTION),
    ((0x8180, 1, 1, 11, 0), QUESTION),
    ((0x8180, 1, 1, 0, 11), QUESTION),
    ((0x0100, 1, 0, 0, 0), b""),  # header only
    ((0x0100, 1, 0, 0, 0), b"\xff"),  # one byte more, not a name
    ((0x807F, 1, 0, 0, 0), b"\xc0"),  # Z, AD, CD and RCODE not looked at
]


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_header_limits_are_tsharks(tmp_path: Path) -> None:
    packets = []
    for k, (fields, rest) in enumerate(LIMITS):
        ip = IP(src=f"198.51.100.{k + 1}", dst="203.0.113.9")  # one conversation per message
        packets.append(Ether() / ip / UDP(sport=40000 + k, dport=45001) / (_header(*fields) + rest))
    query = _header(0x0100, 1, 0, 0, 0) + QUESTION
    for k, port in enumerate((123, 137, 514, 4789, 1985)):  # ports whose dissector takes the query
        packets.append(Ether() / IP(src=f"198.51.100.{100 + k}") / UDP(sport=45002, dport=port) / query)
    packets.append(Ether() / IP(src="198.51.100.110") / UDP(sport=1985, dport=45002) / query)  # HSRP's reply
    recs = [Rec(1_700_000_000_000_000_000 + k * 1000, bytes(p)) for k, p in enumerate(packets)]
    whole = bytes(Ether() / IP(src="198.51.100.111") / UDP(sport=40100, dport=45003) / query)
    recs.append(Rec(recs[-1].ts_ns + 1000, whole[: len(whole) - len(QUESTION) - 1], wirelen=len(whole)))
    path = tmp_path / "limits.pcap"
    write_pcap(path, recs)
    ours = {f: v[0] for f, v in _dns_frames(path).items()}
    assert ours == _tshark_frames(path)
    # 9 of LIMITS and HSRP's reply; not the header cut by the capture
    assert sorted(ours) == [1, 8, 10, 11, 12, 14, 16, 20, 21, 27]
