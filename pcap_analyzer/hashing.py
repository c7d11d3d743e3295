"""64-bit hash mixing for the Numba kernels' open-addressing tables (flows, DNS transactions)."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.jit import kernel

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: spreads consecutive values over the table
_SHIFT = np.uint64(31)


@kernel
def mix64(h: np.uint64, v: np.uint64) -> np.uint64:
    """Fold `v` into the hash `h`: xor, multiply by GOLDEN, then xor-shift the high bits down."""
    h = (h ^ v) * GOLDEN
    return h ^ (h >> _SHIFT)
