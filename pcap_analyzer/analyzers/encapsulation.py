"""Encapsulation per conversation: the stacks (VLAN tags, MPLS, tunnels, ...) its packets were captured in."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.analyzers.protocols import stack_path
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.flows.model import FlowTable
from pcap_analyzer.report.model import TcpConnection


class EncapsulationAnalyzer:
    """Counts, per conversation, the packets of each encapsulation stack (link type, `PacketTable.encap`,
    innermost network layer). Packets without any encapsulation layer are not counted: chunks without one
    cost a single `any()`.

    Example:
        >>> analyzer.update(batch)   # for each chunk
        >>> analyzer.annotate(result.connections, flows)
        >>> result.connections[0].encapsulation
        ['Ethernet/IPv4/GRE/IPv4']
    """

    def __init__(self) -> None:
        self._stacks: dict[tuple[int, int, int], int] = {}  # (linktype, encap, l3) -> index in _packets
        self._packets: list[np.ndarray] = []  # per stack: packets per conversation id

    def update(self, batch: PacketBatch) -> None:
        """Add one chunk's encapsulated packets (vectorized per distinct stack)."""
        p = batch.packets
        if not p.encap.any():
            return
        conv = batch.flows.conv
        rows = np.flatnonzero((p.encap != 0) & (conv >= 0))
        if rows.size == 0:
            return
        linktype = p.linktype[rows].astype(np.int64)
        keys = np.stack([p.encap[rows], linktype, p.l3[rows].astype(np.int64)], axis=1)
        uniq, inv = np.unique(keys, axis=0, return_inverse=True)
        inv = inv.ravel()
        conv = conv[rows]
        for k, (encap, linktype, l3) in enumerate(uniq.tolist()):
            counts = np.bincount(conv[inv == k])
            index = self._stacks.setdefault((linktype, encap, l3), len(self._packets))
            if index == len(self._packets):
                self._packets.append(np.zeros(0, np.int64))
            held = self._packets[index]
            if held.shape[0] < counts.shape[0]:
                held = np.concatenate([held, np.zeros(counts.shape[0] - held.shape[0], np.int64)])
                self._packets[index] = held
            held[: counts.shape[0]] += counts

    def stacks(self, conv: int) -> list[str]:
        """The encapsulation stacks of conversation `conv` ("Ethernet/802.1Q/IPv4/GRE/IPv4"), most packets
        first; empty when none of its packets crossed an encapsulation."""
        seen = []
        for (linktype, encap, l3), index in self._stacks.items():
            held = self._packets[index]
            if conv < held.shape[0] and held[conv] > 0:
                seen.append((-int(held[conv]), stack_path(linktype, encap, l3)))
        return [path for _, path in sorted(seen)]

    def annotate(self, connections: list[TcpConnection], flows: FlowTable) -> None:
        """Fill `encapsulation` of the TCP connection rows (by tcp.stream) from their conversations."""
        if not self._stacks or not connections:
            return
        is_tcp = flows.tcp_stream >= 0
        conv_of_stream = np.full(int(flows.tcp_stream.max(initial=-1)) + 1, -1, np.int64)
        conv_of_stream[flows.tcp_stream[is_tcp]] = np.flatnonzero(is_tcp)
        for c in connections:
            if 0 <= c.stream < conv_of_stream.shape[0] and conv_of_stream[c.stream] >= 0:
                c.encapsulation = self.stacks(int(conv_of_stream[c.stream]))
