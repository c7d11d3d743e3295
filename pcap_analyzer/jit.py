"""`kernel`: the engine's Numba decorator for per-packet loops.

Numba normally reference-counts every array it passes to another jitted function: an atomic increment and
decrement per array per call, which costs more than the packet work itself when a loop calls small helpers
with a buffer or a few columns (measured: flow assignment 310 -> 30 ns per packet without it). Kernels that
only read and write arrays their caller owns need no counting, so `kernel` turns Numba's runtime (NRT) off;
such a function cannot allocate arrays (Numba then refuses to compile it). It also releases the GIL, so a
reader thread can decode the next chunk meanwhile, and caches the machine code on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numba import njit

_OPTIONS = {"cache": True, "nogil": True, "_nrt": False}


def kernel(func: Callable[..., Any] | None = None, **options: Any) -> Any:
    """`@kernel` or `@kernel(inline="always")`: njit with the engine's options (extra ones override)."""
    decorate = njit(**{**_OPTIONS, **options})
    return decorate if func is None else decorate(func)
