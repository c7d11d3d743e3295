"""Finished TLS handshakes kept compactly: one row of integers each, whole objects only for the lists."""

from __future__ import annotations

import heapq
from array import array

import numpy as np

from pcap_analyzer.analyzers.common import format_addr
from pcap_analyzer.analyzers.tls_conn import TlsConnection

NONE = -1  # an absent time, frame or name in a column
COMPLETED, FAILED, INCOMPLETE = 0, 1, 2
OUTCOMES = ("completed", "failed", "incomplete")
# columns, one int64 per handshake (8 bytes each: ~80 bytes a handshake however many there are)
COLUMNS = (
    "stream",
    "ch_ns",
    "sh_ns",
    "done_ns",
    "ch_frame",
    "sh_frame",
    "server",
    "version",
    "alert",
    "outcome",
)


def server_label(c: TlsConnection) -> str:
    """The server as the report names it: the SNI, else address:port."""
    if c.server_name:
        return c.server_name
    addr, port = format_addr(c.addrs[3], c.addrs[4]), c.addrs[5]
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def outcome(c: TlsConnection) -> int:
    return COMPLETED if c.done_ns is not None else FAILED if c.alert else INCOMPLETE


class HandshakeRows:
    """Columns of every finished handshake, the first `max_list` failed ones (by ClientHello frame) and the
    `max_list` slowest ClientHello -> ServerHello ones, kept whole for the report's lists."""

    def __init__(self, max_list: int) -> None:
        self.max_list = max_list
        self.cols = {name: array("q") for name in COLUMNS}
        self.names: dict[str, int] = {}  # server label, version or alert name -> code in the columns
        self.failed: list[tuple[int, TlsConnection]] = []  # heap on -frame: the latest is dropped first
        self.slowest: list[tuple[int, int, TlsConnection]] = []  # heap on (hello ns, -frame)

    def _code(self, name: str | None) -> int:
        if name is None:
            return NONE
        return self.names.setdefault(name, len(self.names))

    def add(self, c: TlsConnection) -> None:
        assert c.ch_ns is not None
        result = outcome(c)
        values = (
            c.stream, c.ch_ns, NONE if c.sh_ns is None else c.sh_ns, NONE if c.done_ns is None else c.done_ns,
            c.ch_frame, NONE if c.sh_frame is None else c.sh_frame, self._code(server_label(c)),
            NONE if c.version is None else c.version, self._code(c.alert), result,
        )  # fmt: skip
        for name, v in zip(COLUMNS, values, strict=True):
            self.cols[name].append(v)
        if self.max_list <= 0:
            return
        if result == FAILED:
            _keep(self.failed, (-c.ch_frame, c), self.max_list)
        if c.sh_ns is not None:
            _keep(self.slowest, (c.sh_ns - c.ch_ns, -c.ch_frame, c), self.max_list)

    def arrays(self) -> dict[str, np.ndarray]:
        """The columns as int64 arrays, in ClientHello frame order."""
        cols = {
            k: np.frombuffer(v, np.int64) if len(v) else np.zeros(0, np.int64) for k, v in self.cols.items()
        }
        order = np.argsort(cols["ch_frame"], kind="stable")
        return {k: v[order] for k, v in cols.items()}

    def labels(self) -> list[str]:
        """Names by code."""
        out = [""] * len(self.names)
        for name, code in self.names.items():
            out[code] = name
        return out

    def failures(self) -> list[TlsConnection]:
        return [c for _, c in sorted(self.failed, key=lambda x: -x[0])]

    def slowest_first(self) -> list[TlsConnection]:
        return [c for _, _, c in sorted(self.slowest, key=lambda x: (-x[0], -x[1]))]


def _keep(heap: list, item: tuple, cap: int) -> None:  # type: ignore[type-arg]
    """Keep the `cap` largest items of `heap` (a min-heap)."""
    if len(heap) < cap:
        heapq.heappush(heap, item)
    elif item[:-1] > heap[0][:-1]:
        heapq.heapreplace(heap, item)
