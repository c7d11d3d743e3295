"""Conversations as the detectors see them: the flow table's rows joined with the TCP stage's per-stream
counters and the collector's per-conversation flag bits. Arrays only, one entry per conversation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pcap_analyzer.flows.model import FlowTable
from pcap_analyzer.tcp.report import TcpReport
from pcap_analyzer.tcp.state import D_DATA, D_RST, D_SYN, D_SYNACK, S_HS_ACK_TS

IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 = 1, 6, 17, 58
# Probe flavours (`Conns.odd` bits): TCP packets without ACK that no stack sends in a normal exchange.
ODD_FIN, ODD_NULL, ODD_XMAS = 1, 2, 4


@dataclass(slots=True)
class Conns:
    """Per conversation (FlowTable index); TCP fields are False/0 for other protocols."""

    table: FlowTable
    tcp: npt.NDArray[np.bool_]
    syn: npt.NDArray[np.int64]  # SYN packets (without ACK) from the initiator
    synack: npt.NDArray[np.bool_]  # the responder answered with SYN/ACK
    rst_b: npt.NDArray[np.bool_]  # the responder sent RST
    data: npt.NDArray[np.bool_]  # payload in either direction
    handshake: npt.NDArray[np.bool_]  # the initiator's ACK completed the handshake
    odd: npt.NDArray[np.uint8]  # ODD_* flavours the initiator sent
    echo: npt.NDArray[np.int64]  # ICMP echo requests from the initiator


def build_conns(
    table: FlowTable, report: TcpReport | None, odd: npt.NDArray[np.uint8], echo: npt.NDArray[np.int64]
) -> Conns:
    """Join the flow table (one row per conversation) with the TCP report (one row per tcp.stream)."""
    n = len(table)
    stream = table.tcp_stream
    n_streams = 0 if report is None else report.dirs.shape[0]
    tcp = (table.ip_proto == IPPROTO_TCP) & (stream >= 0) & (stream < n_streams)
    syn = np.zeros(n, np.int64)
    synack = np.zeros(n, np.bool_)
    rst_b = np.zeros(n, np.bool_)
    data = np.zeros(n, np.bool_)
    handshake = np.zeros(n, np.bool_)
    if report is not None and tcp.any():
        rows = np.flatnonzero(tcp)
        s = stream[rows]
        d = report.dirs[s]
        syn[rows] = d[:, 0, D_SYN] - d[:, 0, D_SYNACK]
        synack[rows] = d[:, 1, D_SYNACK] > 0
        rst_b[rows] = d[:, 1, D_RST] > 0
        data[rows] = (d[:, 0, D_DATA] + d[:, 1, D_DATA]) > 0
        handshake[rows] = report.streams[s, S_HS_ACK_TS] >= 0
    return Conns(
        table=table,
        tcp=tcp,
        syn=syn,
        synack=synack,
        rst_b=rst_b,
        data=data,
        handshake=handshake,
        odd=odd,
        echo=echo,
    )


def densest_window(ts: npt.NDArray[np.float64], window: float) -> tuple[int, int]:
    """(start, end) indices of the sorted `ts` slice that holds the most values within `window` seconds."""
    ends = np.searchsorted(ts, ts + window, side="right")
    counts = ends - np.arange(ts.size)
    i = int(np.argmax(counts))
    return i, int(ends[i])


def group_rows(
    *keys: npt.NDArray[np.generic],
    min_size: int = 1,
    weights: npt.NDArray[np.int64] | None = None,
    min_weight: int = 0,
) -> list[npt.NDArray[np.int64]]:
    """Positions of the rows sharing each combination of `keys` (arrays of equal length), for the groups
    of at least `min_size` rows (and, with `weights`, whose weights sum to at least `min_weight`); each in
    increasing position (the flow table's order of first packets). The filters run vectorised, so only
    candidate groups become Python objects."""
    if keys[0].size == 0 or keys[0].size < min_size:
        return []
    order = np.lexsort(keys[::-1])
    change = np.zeros(order.size, np.bool_)
    change[0] = True
    for key in keys:
        k = key[order]
        change[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(change)
    sizes = np.diff(np.append(starts, order.size))
    keep = sizes >= min_size
    if weights is not None:
        keep &= np.add.reduceat(weights[order], starts) >= min_weight
    return [
        np.sort(order[a : a + m]) for a, m in zip(starts[keep].tolist(), sizes[keep].tolist(), strict=True)
    ]
