"""Helpers shared by the record walks: byte-order-aware integer reads (Numba) and the output arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.jit import kernel


@kernel(inline="always")
def u32(buf: npt.NDArray[np.uint8], i: int, swapped: bool) -> int:
    """Unsigned 32-bit integer at buf[i], little-endian unless `swapped` (big-endian file)."""
    b0, b1, b2, b3 = np.int64(buf[i]), np.int64(buf[i + 1]), np.int64(buf[i + 2]), np.int64(buf[i + 3])
    if swapped:
        return int((b0 << 24) | (b1 << 16) | (b2 << 8) | b3)
    return int((b3 << 24) | (b2 << 16) | (b1 << 8) | b0)


@kernel(inline="always")
def u16(buf: npt.NDArray[np.uint8], i: int, swapped: bool) -> int:
    """Unsigned 16-bit integer at buf[i]."""
    if swapped:
        return int((np.int64(buf[i]) << 8) | np.int64(buf[i + 1]))
    return int((np.int64(buf[i + 1]) << 8) | np.int64(buf[i]))


class WalkOut:
    """Per-record output arrays of one chunk, sized for the most records a budget can hold."""

    def __init__(self, capacity: int) -> None:
        self.off: npt.NDArray[np.int64] = np.empty(capacity, dtype=np.int64)
        self.cap: npt.NDArray[np.uint32] = np.empty(capacity, dtype=np.uint32)
        self.wire: npt.NDArray[np.uint32] = np.empty(capacity, dtype=np.uint32)
        self.ts: npt.NDArray[np.int64] = np.empty(capacity, dtype=np.int64)
        self.lt: npt.NDArray[np.uint16] = np.empty(capacity, dtype=np.uint16)
        self.n = 0
