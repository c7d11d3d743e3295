"""PacketBatch: everything the streaming analyzers see for one chunk."""

from __future__ import annotations

from dataclasses import dataclass

from pcap_analyzer.decode.dns_tcp import DnsMessages
from pcap_analyzer.decode.packets import PacketTable
from pcap_analyzer.flows.model import FlowAssignment
from pcap_analyzer.tcp.model import TcpChunkResult


@dataclass(slots=True)
class PacketBatch:
    """One chunk after decode, flow assignment and TCP analysis; all arrays are aligned by packet.

    `tcp` is None for the analyzers that run before TCP analysis (see pcap_analyzer.api). `dns_tcp` holds the
    DNS messages reassembled from TCP in this chunk (`decode.dns_tcp`), for the analyzers that run before
    TCP analysis; None when the caller did not reassemble them.
    """

    packets: PacketTable
    flows: FlowAssignment
    tcp: TcpChunkResult | None = None
    dns_tcp: DnsMessages | None = None
