"""Build hook: a wheel carries the engine's kernels compiled ahead of time (metadata is in pyproject.toml).

`python -m build` / `pip wheel .` copy the packages to the build folder, then run
`python -m pcap_analyzer.aot` on that copy, so the compiled module and its manifest match the installed
sources exactly and a user never waits for Numba to compile (nor needs a writable site-packages). Without
a C compiler (or if the build fails) the wheel is made without them and the engine uses Numba's JIT, with
a one-line notice here. Editable installs skip it (scripts/bootstrap builds the kernels in the source
tree). PCAP_ANALYZER_AOT_CPU picks the CPU model (see pcap_analyzer/aot.py); PCAP_ANALYZER_NO_AOT=1 skips
the build.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithKernels(build_py):
    """build_py, then the ahead-of-time kernel build on the copied package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or os.environ.get("PCAP_ANALYZER_NO_AOT", "") not in (
            "",
            "0",
        ):
            return
        build_lib = Path(self.build_lib).resolve()
        for stale in (build_lib / "pcap_analyzer").glob("_kernels*"):
            stale.unlink()
        env = {
            **os.environ,
            "PYTHONPATH": str(build_lib),
            "PYTHONDONTWRITEBYTECODE": "1",  # nothing but the kernels is added to the build folder
            "PCAP_ANALYZER_JIT": "1",
        }
        cmd = [
            sys.executable,
            "-m",
            "pcap_analyzer.aot",
            "--quiet",
            "--sample",
            str(ROOT / "samples" / "demo.pcap"),
        ]
        done = subprocess.run(cmd, cwd=build_lib, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["no output"]
            errors = [line.strip() for line in lines if "Error" in line or "error:" in line]
            last = (errors or lines)[-1][:200]
            sys.stderr.write(
                f"pcap-analyzer: kernels not compiled ahead of time ({last}); "
                "the engine will use Numba's JIT\n"
            )


class PlatformDistribution(Distribution):
    """The wheel holds a compiled extension module: tag it for this Python and platform."""

    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_py": BuildPyWithKernels}, distclass=PlatformDistribution)
