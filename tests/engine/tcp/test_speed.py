"""Throughput of the TCP kernel alone (a measurement: `pytest -m benchmark tests/engine/tcp -s`)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from pcap_analyzer.decode.packets import TCP_ACK, PacketTable
from pcap_analyzer.flows.model import FlowAssignment
from pcap_analyzer.tcp.analyzer import TcpAnalyzer


def _bulk_table(n: int, streams: int = 200, loss_every: int = 97) -> tuple[PacketTable, FlowAssignment]:
    """Interleaved bulk transfers, 32 segments in flight, the ACK clock held back now and then."""
    t = PacketTable.empty(n)
    k = np.arange(n)
    stream = (k // 2) % streams
    step = k // (2 * streams)
    direction = (k % 2).astype(np.uint8)
    t.frame[:] = k + 1
    t.ts_ns[:] = 1_700_000_000_000_000_000 + k * 1000
    t.tcp_flags[:] = TCP_ACK
    data = direction == 0
    seq = 1000 + step * 1448
    t.seq[:] = np.where(data, seq, 5000)
    acked = np.maximum(seq - 31 * 1448 - np.where(step % loss_every == 0, 1448, 0), 1000)
    t.ack[:] = np.where(data, 5000, acked)
    t.payload_len[:] = np.where(data, 1448, 0)
    t.win[:] = 500
    return t, FlowAssignment(stream.astype(np.int64), stream.astype(np.int64), direction)


@pytest.mark.benchmark
def test_kernel_packets_per_second() -> None:
    packets, flows = _bulk_table(2_000_000)
    TcpAnalyzer().update(packets, flows)  # JIT warm-up (cached after the first run)
    best = float("inf")
    for _ in range(3):
        tcp = TcpAnalyzer(series_slots=0)
        t0 = time.perf_counter()
        tcp.update(packets, flows)
        best = min(best, time.perf_counter() - t0)
    rate = len(packets) / best
    print(f"TcpAnalyzer.update: {rate / 1e6:.2f} M packets/s")
    assert rate > 1e6
