"""A new connection on the ports of an earlier one (after FIN, after RST, or with no close seen) is a new
tcp.stream, as tshark's tcp.analysis.reused_ports says, and its SYN is not a retransmission."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from pcap_analyzer.api import analyze

TSHARK = shutil.which("tshark")
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
C, S = IP(src="10.0.0.1", dst="10.0.0.2"), IP(src="10.0.0.2", dst="10.0.0.1")


def _connection(isn: int, close: str, t0: float) -> list[Packet]:
    def c(flags: str, seq: int, ack: int = 0, data: bytes = b"") -> Packet:
        return ETH / C / TCP(sport=40000, dport=80, flags=flags, seq=seq, ack=ack) / Raw(data)

    def s(flags: str, seq: int, ack: int) -> Packet:
        return ETH / S / TCP(sport=80, dport=40000, flags=flags, seq=seq, ack=ack)

    out = [c("S", isn), s("SA", 9000, isn + 1), c("A", isn + 1, 9001), c("PA", isn + 1, 9001, b"x" * 100)]
    out.append(s("A", 9001, isn + 101))
    if close == "rst":
        out.append(c("R", isn + 101))
    elif close == "fin":
        out += [c("FA", isn + 101, 9001), s("FA", 9001, isn + 102), c("A", isn + 102, 9002)]
    for k, p in enumerate(out):
        p.time = t0 + k * 0.01
    return out


def _tshark(path: Path, *args: str) -> list[str]:
    cmd = [TSHARK or "tshark", "-r", str(path), "-2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_reused_ports_start_a_new_stream(tmp_path: Path) -> None:
    packets = _connection(1000, "fin", 1.0) + _connection(500_000, "rst", 2.0)
    packets += _connection(900_000, "none", 3.0) + _connection(1000, "fin", 4.0)
    path = tmp_path / "reused.pcap"
    wrpcap(str(path), packets)
    streams = set(_tshark(path, "-T", "fields", "-e", "tcp.stream"))
    reused = _tshark(path, "-Y", "tcp.analysis.reused_ports", "-T", "fields", "-e", "frame.number")
    retransmitted = _tshark(path, "-Y", "tcp.analysis.retransmission", "-T", "fields", "-e", "frame.number")
    assert (len(streams), len(reused), len(retransmitted)) == (4, 3, 0)  # by construction, and tshark's
    r = analyze(path)
    assert (r.tcp.conversations, r.tcp.syn, r.tcp.retransmissions, r.tcp.syn_retransmissions) == (4, 4, 0, 0)
    assert sorted(c.first_frame for c in r.connections) == [1, 9, 15, 20]
