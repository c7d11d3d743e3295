"""The one place that uses `numba.pycc` (Numba's ahead-of-time compiler, marked for deprecation upstream).

`pcap_analyzer.aot` collects the kernels and the signatures to export and writes the manifest; this module
only turns them into an extension module. Should `numba.pycc` go away, a replacement (e.g. another AOT
compiler, or shipping Numba's on-disk cache) implements `compile_module` and nothing else changes; until
then a build without it fails and the engine keeps using Numba's JIT (docs/engine-pipeline.md).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def _release_gil_in_wrappers() -> None:
    """Make pycc's Python wrappers release the GIL around the call, as `nogil=True` does for the JIT."""
    from numba.pycc import compiler as pycc_compiler

    if getattr(pycc_compiler.compile_extra, "_releases_gil", False):
        return
    compile_extra = pycc_compiler.compile_extra

    def compile_releasing_gil(*args: Any, **kwargs: Any) -> Any:
        flags = args[5] if len(args) > 5 else kwargs["flags"]
        flags.release_gil = True
        return compile_extra(*args, **kwargs)

    compile_releasing_gil._releases_gil = True  # type: ignore[attr-defined]
    pycc_compiler.compile_extra = compile_releasing_gil


def compile_module(
    name: str,
    exports: Sequence[tuple[str, Callable[..., Any], Any]],
    output_dir: Path,
    target_cpu: str,
    source_module: str,
) -> Path:
    """Compile `exports` ((exported name, Python function calling a kernel, Numba signature), ...) into the
    extension module `name` in `output_dir` for the LLVM CPU model `target_cpu`; returns its path.

    The exported functions release the GIL. Needs a C compiler.
    """
    from numba.core.errors import NumbaPendingDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)
        from numba.pycc import CC

    _release_gil_in_wrappers()
    cc = CC(name, source_module=source_module)
    cc.output_dir = str(output_dir)
    cc.target_cpu = target_cpu
    for export, func, sig in exports:
        cc.export(export, sig)(func)
    cc.compile()
    return output_dir / cc.output_file
