"""Ahead-of-time compiled kernels (pcap_analyzer.aot): used without Numba, same results as the JIT, safe
fallback for argument types the build never saw."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pcap_analyzer.aot import is_fresh
from pcap_analyzer.jit import fits

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "demo.pcap"


@pytest.fixture(scope="module", autouse=True)
def _compiled() -> None:
    if not is_fresh():
        message = "kernels not compiled ahead of time for these sources (python -m pcap_analyzer.aot)"
        if os.environ.get("REQUIRE_AOT") == "1":
            pytest.fail(message + " and REQUIRE_AOT=1")
        pytest.skip(message)


def _python(code: str, *, jit: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PCAP_ANALYZER_JIT"}
    if jit:
        env["PCAP_ANALYZER_JIT"] = "1"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)


def _captures(corpus_dir: Path, tmp_path: Path) -> list[Path]:
    """Every corpus capture, the bundled sample, and a gzip-compressed one (read from a bytes buffer)."""
    compressed = tmp_path / "netns_mixed.pcapng.gz"
    compressed.write_bytes(gzip.compress((corpus_dir / "netns_mixed.pcapng").read_bytes()))
    return [*sorted(corpus_dir.glob("*.pcap*")), SAMPLE, compressed]


def test_engine_never_imports_numba_when_kernels_are_compiled(corpus_dir: Path, tmp_path: Path) -> None:
    paths = [str(p) for p in _captures(corpus_dir, tmp_path)]
    proc = _python(
        "import json, sys, warnings\n"
        "warnings.simplefilter('error', RuntimeWarning)\n"
        "from pcap_analyzer import analyze, jit\n"
        f"counts = [analyze(p).capture.packets for p in {paths!r}]\n"
        "print(json.dumps([jit.MODE, 'numba' in sys.modules, counts]))\n"
    )
    assert proc.returncode == 0, proc.stderr
    mode, numba_imported, counts = json.loads(proc.stdout)
    assert (mode, numba_imported) == ("aot", False)
    assert all(n > 0 for n in counts)


def _report(path: Path, out: Path, *, jit: bool) -> dict[str, Any]:
    proc = _python(
        "import sys\nfrom pcap_analyzer import analyze, jit\nfrom pcap_analyzer.report.base import to_json\n"
        f"r = analyze({str(path)!r})\n"
        f"open({str(out)!r}, 'w').write(to_json(r).decode())\n"
        "print(jit.MODE)\n",
        jit=jit,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ("jit" if jit else "aot")
    report: dict[str, Any] = json.loads(out.read_text())
    for volatile in ("analyzed_at", "elapsed_s"):
        report.pop(volatile)
    return report


@pytest.mark.parametrize("name", ["netns_mixed.pcapng", "netns_mixed_truncated.pcap"])
def test_compiled_and_jit_kernels_give_the_same_report(corpus_dir: Path, tmp_path: Path, name: str) -> None:
    compiled = _report(corpus_dir / name, tmp_path / "aot.json", jit=False)
    jitted = _report(corpus_dir / name, tmp_path / "jit.json", jit=True)
    assert compiled == jitted
    assert compiled["capture"]["packets"] > 0


def test_arguments_of_an_unforeseen_type_fall_back_to_the_jit(
    corpus_dir: Path, oracle: dict[str, Any]
) -> None:
    # be16 was compiled for (uint8 array, int64); an int32 position needs a new signature.
    path = corpus_dir / "netns_mixed.pcapng"
    proc = _python(
        "import json, sys, warnings\nimport numpy as np\n"
        "from pcap_analyzer import analyze, jit\nfrom pcap_analyzer.decode.fields import be16\n"
        "assert 'numba' not in sys.modules\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    value = be16(np.array([0x12, 0x34, 0x56], np.uint8), np.int32(1))\n"
        f"packets = analyze({str(path)!r}).capture.packets\n"
        "print(json.dumps([value, [str(w.message) for w in caught], 'numba' in sys.modules, packets]))\n"
    )
    assert proc.returncode == 0, proc.stderr
    value, warned, numba_imported, packets = json.loads(proc.stdout)
    assert value == 0x3456
    assert len(warned) == 1 and "switching to Numba's JIT" in warned[0]
    assert numba_imported
    assert packets == oracle["netns_mixed.pcapng"]["file"]["frames"]


def test_argument_checks_refuse_what_the_compiled_code_cannot_take() -> None:
    writes = ["array", "<i8", 1, "C", False]
    column = np.zeros(4, np.int64)
    assert fits(writes, column)
    column.flags.writeable = False
    assert not fits(writes, column)  # a read-only array never reaches a kernel that writes it
    assert fits(["array", "<i8", 1, "C", True], column)
    assert not fits(writes, np.zeros(8, np.int64)[::2])  # not contiguous
    assert not fits(writes, np.zeros(4, np.int32))
    assert not fits(["scalar", "<i8"], 1 << 63) and fits(["scalar", "<i8"], 5)
    assert fits(["tuple", [writes, ["scalar", "|b1"]]], (np.zeros(2, np.int64), True))
