"""`kernel`: the engine's decorator for per-packet loops, compiled by Numba just in time or ahead of time.

Numba normally reference-counts every array it passes to another jitted function: an atomic increment and
decrement per array per call, which costs more than the packet work itself when a loop calls small helpers
with a buffer or a few columns (measured: flow assignment 310 -> 30 ns per packet without it). Kernels that
only read and write arrays their caller owns need no counting, so `kernel` turns Numba's runtime (NRT) off
(`_nrt` is a private Numba option: should a release drop it, every kernel fails at import and the tests
say so); such a function cannot allocate arrays (`@kernel(_nrt=True)` where one must). It also releases
the GIL, so a reader thread can decode the next chunk meanwhile, and caches the machine code on disk.

Importing Numba and loading even cached kernels costs most of a short run's time (about 0.3 s of imports
and 0.2-0.4 s of one-time set-up on this machine's class of hardware), so `python -m pcap_analyzer.aot`
compiles the kernels ahead of time, with the same Numba, into the extension module `pcap_analyzer._kernels`
(see `pcap_analyzer.aot`). When that module exists and was built from exactly these sources
(`source_fingerprint`), `kernel` returns an `AotKernel`, and Numba is never imported. An `AotKernel` checks
its arguments' types against the compiled signatures; on a call that fits none (a code path the build did
not see), the whole engine switches to Numba's JIT once, with a RuntimeWarning, and the call proceeds:
slower, never wrong. `PCAP_ANALYZER_JIT=1` forces the JIT.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "_nrt": False}
PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST = PACKAGE_DIR / "_kernels.json"
AOT_MODULE = "pcap_analyzer._kernels"


def source_fingerprint() -> str:
    """Hash of every engine source file and of the Python ABI and NumPy the kernels were compiled for.

    The Python part is the ABI tag (e.g. cpython-311), not the full version: an extension module built by
    one CPython 3.11.x loads in any other (a wheel built on one machine, installed with another 3.11).
    """
    h = hashlib.sha256(f"{sys.implementation.cache_tag}|{sys.platform}|{np.__version__}".encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def fresh_manifest() -> dict[str, Any] | None:
    """The compiled kernels' manifest, if it was written for exactly these sources (else None)."""
    try:
        manifest = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("fingerprint") != source_fingerprint():
        return None
    return manifest


def _load_aot() -> dict[str, list[tuple[Callable[..., Any], list[Any]]]] | None:
    """The compiled kernels by "module:qualname", if built from these sources and not disabled."""
    if os.environ.get("PCAP_ANALYZER_JIT", "") not in ("", "0"):
        return None
    manifest = fresh_manifest()
    if manifest is None:
        return None
    try:
        module = importlib.import_module(AOT_MODULE)
    except ImportError:
        return None
    return {
        key: [(getattr(module, name), specs) for name, specs in exports]
        for key, exports in manifest["kernels"].items()
    }


_AOT = _load_aot()
MODE = "aot" if _AOT is not None else "jit"
"""How kernels run in this process: "aot" (compiled extension module) or "jit" (Numba)."""

_REGISTRY: list[AotKernel] = []
_SWITCH_LOCK = threading.Lock()
_INT64 = np.dtype(np.int64).str


def _scalar_dtype(x: Any) -> str | None:
    """The NumPy dtype string Numba would type the scalar `x` as (None: not a scalar it maps)."""
    if isinstance(x, (bool, np.bool_)):
        return np.dtype(np.bool_).str
    if isinstance(x, int):
        return _INT64 if -(1 << 63) <= x < 1 << 63 else None
    if isinstance(x, float):
        return np.dtype(np.float64).str
    if isinstance(x, np.generic):
        return x.dtype.str
    return None


def fits(spec: Sequence[Any], x: Any) -> bool:
    """Whether `x` has the type described by `spec` (one argument of a compiled signature).

    Specs: ["array", dtype, ndim, layout ("C" or "A"), readonly_ok], ["tuple", [spec, ...]],
    ["scalar", dtype]. A read-only array fits only where the build proved the kernel never writes it.
    """
    kind = spec[0]
    if kind == "array":
        return (
            isinstance(x, np.ndarray)
            and x.dtype.str == spec[1]
            and x.ndim == spec[2]
            and (spec[3] != "C" or x.flags.c_contiguous)
            and x.flags.aligned
            and (spec[4] or x.flags.writeable)
        )
    if kind == "tuple":
        return isinstance(x, tuple) and len(x) == len(spec[1]) and all(map(fits, spec[1], x))
    return _scalar_dtype(x) == spec[1]


class AotKernel:
    """A kernel compiled ahead of time; falls back to Numba's JIT for arguments of another type."""

    def __init__(self, func: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func, self.options = func, options
        self.__name__, self.__qualname__, self.__doc__ = func.__name__, func.__qualname__, func.__doc__
        self.__module__ = func.__module__
        assert _AOT is not None
        self._compiled = _AOT.get(f"{func.__module__}:{func.__qualname__}", [])
        self._jitted: Callable[..., Any] | None = None
        _REGISTRY.append(self)

    def __call__(self, *args: Any) -> Any:
        if self._jitted is None:
            for compiled, specs in self._compiled:
                if len(specs) == len(args) and all(map(fits, specs, args)):
                    return compiled(*args)
            _switch_to_jit(self, args)
        assert self._jitted is not None
        return self._jitted(*args)

    def __repr__(self) -> str:
        return f"<AotKernel {self.__module__}.{self.__qualname__} ({len(self._compiled)} signatures)>"


def _switch_to_jit(caller: AotKernel, args: Sequence[Any]) -> None:
    """Give every kernel a Numba dispatcher and point the engine's module globals at them.

    Jitted code resolves the helpers it calls through its module's globals, which must then be Numba
    dispatchers rather than `AotKernel`s.
    """
    with _SWITCH_LOCK:
        if caller._jitted is not None:
            return
        types = ", ".join(type(a).__name__ if not isinstance(a, np.ndarray) else str(a.dtype) for a in args)
        warnings.warn(
            f"{caller.__module__}.{caller.__qualname__} was not compiled ahead of time for ({types}); "
            "switching to Numba's JIT for this process (rebuild with `python -m pcap_analyzer.aot`)",
            RuntimeWarning,
            stacklevel=3,
        )
        from numba import njit

        jitted = {id(k): njit(**{**_OPTIONS, **k.options})(k.py_func) for k in _REGISTRY}
        for name, module in list(sys.modules.items()):
            if name.startswith("pcap_analyzer") and module is not None:
                for attr, value in list(vars(module).items()):
                    if isinstance(value, AotKernel):
                        setattr(module, attr, jitted[id(value)])
        for k in _REGISTRY:
            k._jitted = jitted[id(k)]


def kernel(func: Callable[..., Any] | None = None, **options: Any) -> Any:
    """`@kernel` or `@kernel(inline="always")`: njit with the engine's options (extra ones override)."""

    def decorate(f: Callable[..., Any]) -> Any:
        if _AOT is not None:
            return AotKernel(f, options)
        from numba import njit

        return njit(**{**_OPTIONS, **options})(f)

    return decorate if func is None else decorate(func)
