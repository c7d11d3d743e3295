"""Run capture -> decode -> IP reassembly -> flows -> tcp -> the streaming analyzers on a file (test
helper)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pcap_analyzer.analyzers.bursts import BurstAnalyzer
from pcap_analyzer.analyzers.dns import DnsAnalyzer
from pcap_analyzer.analyzers.fragments import FragmentAnalyzer
from pcap_analyzer.analyzers.gaps import GapAnalyzer
from pcap_analyzer.analyzers.jitter import UdpStreamAnalyzer
from pcap_analyzer.analyzers.protocols import ProtocolAnalyzer
from pcap_analyzer.analyzers.talkers import TalkersAnalyzer
from pcap_analyzer.analyzers.throughput import ThroughputAnalyzer
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.dns_tcp import DnsTcpReassembler
from pcap_analyzer.decode.reassembly import IpReassembler
from pcap_analyzer.flows.model import FlowTable


@dataclass
class Analyzers:
    """One instance of every streaming analyzer."""

    dns: DnsAnalyzer = field(default_factory=DnsAnalyzer)
    udp: UdpStreamAnalyzer = field(default_factory=UdpStreamAnalyzer)
    gaps: GapAnalyzer = field(default_factory=GapAnalyzer)
    bursts: BurstAnalyzer = field(default_factory=BurstAnalyzer)
    fragments: FragmentAnalyzer = field(default_factory=FragmentAnalyzer)
    protocols: ProtocolAnalyzer = field(default_factory=ProtocolAnalyzer)
    talkers: TalkersAnalyzer = field(default_factory=TalkersAnalyzer)
    throughput: ThroughputAnalyzer = field(default_factory=ThroughputAnalyzer)
    flows: FlowTable | None = None  # the FlowTracker's table after `run` (talkers read it)

    def update(self, b: PacketBatch) -> None:
        """Feed one batch to every analyzer."""
        for a in (
            self.dns,
            self.udp,
            self.gaps,
            self.bursts,
            self.fragments,
            self.protocols,
            self.talkers,
            self.throughput,
        ):
            a.update(b)


def run(path: Path, *, chunk_bytes: int | None = None, analyzers: Analyzers | None = None) -> Analyzers:
    """Feed every chunk of `path` through the real stages into `analyzers`; skips while a stage is missing."""
    open_mod = pytest.importorskip("pcap_analyzer.capture.open")
    decode_mod = pytest.importorskip("pcap_analyzer.decode")
    if not hasattr(decode_mod, "decode_chunk"):
        pytest.skip("pcap_analyzer.decode.decode_chunk not written yet")
    tracker_mod = pytest.importorskip("pcap_analyzer.flows.tracker")
    tcp_mod = pytest.importorskip("pcap_analyzer.tcp.analyzer")
    an = analyzers or Analyzers()
    kwargs = {} if chunk_bytes is None else {"chunk_bytes": chunk_bytes}
    tracker, tcp, dns_tcp = tracker_mod.FlowTracker(), tcp_mod.TcpAnalyzer(), DnsTcpReassembler()
    reassembler = IpReassembler()
    with open_mod.open_capture(path, **kwargs) as reader:
        for chunk in reader:
            packets = reassembler.apply(decode_mod.decode_chunk(chunk))
            messages = dns_tcp.update(packets)
            flows = tracker.assign(packets)
            an.update(PacketBatch(packets, flows, tcp.update(packets, flows), messages))
    an.flows = tracker.table()
    return an
