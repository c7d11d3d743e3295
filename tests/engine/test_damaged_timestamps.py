"""Timestamps a damaged pcapng can carry (64-bit tick counts beyond int64 nanoseconds) never break a run."""

from __future__ import annotations

import warnings
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from pcap_analyzer import analyze
from pcap_analyzer.report.base import to_json
from tests.engine.builders import Iface, Rec, write_pcapng

# Nanosecond ticks read as int64: the first is about -9.2e18 ns, the next +9.2e18 ns, so the span between
# them does not fit an int64.
EXTREME_TICKS = (2**63 + 10, 2**63 - 10, 2**63 - 5, 2**64 - 1)


def test_extreme_pcapng_timestamps_are_analysed_without_error(tmp_path: Path) -> None:
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    frames = [
        eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=80, flags="S"),
        eth / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=80, dport=40000, flags="SA"),
        eth / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=80, flags="A"),
        eth / IP(src="10.0.0.1", dst="10.0.0.3") / UDP(sport=5000, dport=53),
    ]
    iface = Iface(tsresol=9)
    recs = [Rec(ts_ns=t, data=bytes(f)) for t, f in zip(EXTREME_TICKS, frames, strict=True)]
    path = write_pcapng(tmp_path / "odd-times.pcapng", recs, interfaces=[iface])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an int64 overflow warning is a wrong number
        result = analyze(path)
    assert result.capture.packets == 4
    assert result.tcp.conversations == 1 and len(result.connections) == 1
    assert to_json(result)
