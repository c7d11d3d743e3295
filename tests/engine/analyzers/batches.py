"""Build PacketBatches column by column, with known content, for analyzer unit tests."""

from __future__ import annotations

import ipaddress
from typing import Any

import numpy as np

from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.packets import L3, PacketTable
from pcap_analyzer.flows.model import FlowAssignment
from pcap_analyzer.tcp.model import TcpChunkResult

NS = 1_000_000_000


def addr(text: str) -> tuple[int, int]:
    """PacketTable (hi, lo) halves of an address, IPv4 stored IPv4-mapped."""
    a = ipaddress.ip_address(text)
    v = int(a) | (0xFFFF_0000_0000 if a.version == 4 else 0)
    return v >> 64, v & 0xFFFF_FFFF_FFFF_FFFF


def batch(rows: list[dict[str, Any]], buf: bytes = b"", first_frame: int = 1) -> PacketBatch:
    """One PacketBatch from rows of column values.

    Row keys: any PacketTable column, plus src/dst (address text, sets l3 to IPv4/IPv6 unless given),
    t (seconds, sets ts_ns), conv/tcp_stream/direction (FlowAssignment), analysis/ack_rtt_ns (TCP).
    Defaults: wirelen = caplen = 100, conv = tcp_stream = -1, ack_rtt_ns = -1.
    """
    n = len(rows)
    p = PacketTable.empty(n, np.frombuffer(buf, np.uint8).copy())
    p.frame[:] = np.arange(first_frame, first_frame + n)
    p.wirelen[:] = 100
    p.caplen[:] = 100
    p.linktype[:] = 1
    flows = FlowAssignment(
        conv=np.full(n, -1, np.int64), tcp_stream=np.full(n, -1, np.int64), direction=np.zeros(n, np.uint8)
    )
    tcp = TcpChunkResult(
        analysis=np.zeros(n, np.uint32),
        ack_rtt_ns=np.full(n, -1, np.int64),
        rto_ns=np.full(n, -1, np.int64),
        window=np.full(n, -1, np.int64),
        rel_seq=np.zeros(n, np.uint32),
    )
    for i, row in enumerate(rows):
        for k, v in row.items():
            if k in ("src", "dst"):
                hi, lo = addr(v)
                getattr(p, k + "_hi")[i], getattr(p, k + "_lo")[i] = hi, lo
                if "l3" not in row:
                    p.l3[i] = L3.IPV4 if ipaddress.ip_address(v).version == 4 else L3.IPV6
            elif k == "t":
                p.ts_ns[i] = round(v * NS)
            elif k in ("conv", "tcp_stream", "direction"):
                getattr(flows, k)[i] = v
            elif k in ("analysis", "ack_rtt_ns"):
                getattr(tcp, k)[i] = v
            else:
                getattr(p, k)[i] = v
    return PacketBatch(p, flows, tcp)
