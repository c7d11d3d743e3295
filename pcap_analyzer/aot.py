"""Compile the engine's kernels ahead of time into the extension module `pcap_analyzer._kernels`.

Usage: python -m pcap_analyzer.aot [--if-stale] [--quiet]

The machine code targets this machine's CPU. PCAP_ANALYZER_AOT_CPU names another LLVM CPU model instead:
`generic` runs on every CPU of the architecture (what a container image built on one machine and run on
others needs), `x86-64-v3` needs AVX2, and so on.

The build runs the engine with Numba's JIT over the bundled sample, as a classic pcap and as pcapng, over a
generated RTP stream and over generated IP fragments, with tiny initial tables so every growth path runs too,
and records the signature each kernel was compiled for.
Signatures that differ only in an array being read-only are merged into the read-only one (Numba compiled
it, so the kernel never writes that array). `numba.pycc` then compiles, for every kernel and signature, a
thin wrapper that calls the kernel (same machine code as the JIT, for the CPU model above) and releases the
GIL like `nogil=True`. The manifest `_kernels.json` records the sources' fingerprint and each compiled
signature; `pcap_analyzer.jit` uses the module only while the fingerprint matches. Needs a C compiler.
`numba.pycc` is used only through `pcap_analyzer.aot_pycc`. Building a wheel (setup.py) runs this too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pcap_analyzer import jit
from pcap_analyzer.jit import AOT_MODULE, MANIFEST, PACKAGE_DIR, source_fingerprint

SAMPLE = PACKAGE_DIR.parent / "samples" / "demo.pcap"


def is_fresh() -> bool:
    """Whether the compiled module exists and was built from the current sources."""
    manifest = jit.fresh_manifest()
    return manifest is not None and (PACKAGE_DIR / str(manifest.get("module_file", ""))).is_file()


def _pcapng_from_pcap(src: Path, dst: Path) -> None:
    """Rewrite a little-endian microsecond pcap as pcapng (SHB, one IDB, EPBs) for the pcapng walker."""
    data = src.read_bytes()
    linktype = struct.unpack_from("<I", data, 20)[0]
    out = bytearray(struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28))
    out += struct.pack("<IIHHII", 1, 20, linktype, 0, 65535, 20)
    pos = 24
    while pos + 16 <= len(data):
        sec, usec, caplen, wirelen = struct.unpack_from("<IIII", data, pos)
        body = data[pos + 16 : pos + 16 + caplen]
        if len(body) < caplen:
            break
        ts = sec * 1_000_000 + usec
        padded = body + b"\0" * (-caplen % 4)
        size = 32 + len(padded)
        out += struct.pack("<IIIIIII", 6, size, 0, ts >> 32, ts & 0xFFFFFFFF, caplen, wirelen)
        out += padded + struct.pack("<I", size)
        pos += 16 + caplen
    dst.write_bytes(bytes(out))


def _rtp_pcap(dst: Path, packets: int = 60) -> None:
    """A classic pcap of one G.711 RTP stream (Ethernet/IPv4/UDP, 20 ms apart) for the jitter kernels."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(packets):
        rtp = struct.pack(">BBHII", 0x80, 0, i, 160 * i, 0x1234) + bytes(160)
        udp = struct.pack(">HHHH", 40000, 5004, 8 + len(rtp), 0) + rtp
        ip = (
            struct.pack(
                ">BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(udp),
                i,
                0,
                64,
                17,
                0,
                bytes([10, 0, 0, 1]),
                bytes([10, 0, 0, 2]),
            )
            + udp
        )
        frame = bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + b"\x08\x00" + ip
        ts_us = 1_000_000 + 20_000 * i
        out += struct.pack("<IIII", ts_us // 1_000_000, ts_us % 1_000_000, len(frame), len(frame)) + frame
    dst.write_bytes(bytes(out))


def _fragments_pcap(dst: Path) -> None:
    """A classic pcap of one UDP datagram cut into two IPv4 fragments and one into two IPv6 fragments (the
    reassembly kernels)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    payload = struct.pack(">HHHH", 40000, 9, 8 + 64, 0) + bytes(64)
    v4_src, v4_dst = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    v6_src, v6_dst = bytes(15) + b"\x01", bytes(15) + b"\x02"
    frames = []
    for off, more, part in ((0, 1, payload[:40]), (40, 0, payload[40:])):
        ff = (more << 13) | (off // 8)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(part), 7, ff, 64, 17, 0, v4_src, v4_dst)
        frames.append(b"\x08\x00" + ip + part)
        frag = struct.pack(">BBHI", 17, 0, off | more, 7)
        ip6 = struct.pack(">IHBB16s16s", 6 << 28, 8 + len(part), 44, 64, v6_src, v6_dst)
        frames.append(b"\x86\xdd" + ip6 + frag + part)
    for i, frame in enumerate(sorted(frames, key=lambda f: f[:2])):
        frame = bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + frame
        out += struct.pack("<IIII", 1, 1000 * i, len(frame), len(frame)) + frame
    dst.write_bytes(bytes(out))


def _exercise(workdir: Path, sample: Path) -> None:
    """Run the engine (JIT) over `sample` (and variants) so every kernel is compiled for the argument types
    it really gets."""
    from pcap_analyzer.api import analyze
    from pcap_analyzer.flows import tracker

    pcapng, rtp, fragments = workdir / "sample.pcapng", workdir / "rtp.pcap", workdir / "fragments.pcap"
    _pcapng_from_pcap(sample, pcapng)
    _rtp_pcap(rtp)
    _fragments_pcap(fragments)
    initial = tracker._INITIAL
    tracker._INITIAL = 2  # tiny flow tables: the growth kernels run on the sample too
    try:
        for capture in (sample, pcapng, rtp, fragments):
            analyze(capture)
    finally:
        tracker._INITIAL = initial


def _spec(t: Any) -> list[Any]:
    """The `pcap_analyzer.jit.fits` spec of one Numba argument type."""
    from numba.core import types
    from numba.np.numpy_support import as_dtype

    if isinstance(t, types.Array):
        return ["array", as_dtype(t.dtype).str, t.ndim, "C" if t.layout == "C" else "A", not t.mutable]
    if isinstance(t, types.BaseTuple):
        return ["tuple", [_spec(e) for e in t.types]]
    return ["scalar", as_dtype(t).str]


def _writable(t: Any) -> Any:
    """`t` with every array made writable (the key under which read-only variants are merged)."""
    from numba.core import types

    if isinstance(t, types.Array):
        return t.copy(readonly=False)
    if isinstance(t, types.BaseTuple):
        return types.Tuple(tuple(_writable(e) for e in t.types))
    return t


def _readonly_count(args: tuple[Any, ...]) -> int:
    from numba.core import types

    n = 0
    for t in args:
        if isinstance(t, types.Array):
            n += not t.mutable
        elif isinstance(t, types.BaseTuple):
            n += _readonly_count(tuple(t.types))
    return n


def _signatures() -> dict[str, tuple[Any, list[Any]]]:
    """ "module:qualname" -> (dispatcher, [Numba signatures to export]) for every kernel the run compiled."""
    from numba.core import types
    from numba.core.registry import CPUDispatcher

    found: dict[str, tuple[Any, list[Any]]] = {}
    for name, module in sorted(sys.modules.items()):
        if not name.startswith("pcap_analyzer") or module is None:
            continue
        for value in vars(module).values():
            if not isinstance(value, CPUDispatcher) or value.py_func.__module__ != name:
                continue
            merged: dict[Any, Any] = {}
            for cres in value.overloads.values():
                sig = cres.signature
                if any(isinstance(a, types.Literal) for a in sig.args):
                    continue
                key = tuple(_writable(a) for a in sig.args)
                best = merged.get(key)
                if best is None or _readonly_count(sig.args) > _readonly_count(best.args):
                    merged[key] = sig
            if merged:
                found[f"{name}:{value.py_func.__qualname__}"] = (value, list(merged.values()))
    return found


def build(quiet: bool = False, sample: Path | None = None) -> Path:
    """Compile the kernels into `pcap_analyzer/_kernels.*.so`, write the manifest; returns the module.

    `sample`: the capture the engine runs on to find the signatures (default: samples/demo.pcap of a
    source tree).
    """
    from pcap_analyzer.aot_pycc import compile_module

    started = time.perf_counter()
    fingerprint = source_fingerprint()
    with tempfile.TemporaryDirectory(prefix="pcap-analyzer-aot-") as tmp:
        workdir = Path(tmp)
        # Compile everything fresh: Numba cannot link machine code loaded from its cache into a new module.
        os.environ["NUMBA_CACHE_DIR"] = str(workdir / "numba-cache")
        if jit.MODE != "jit" or "numba" in sys.modules:
            raise RuntimeError("build() needs a process where the engine was not imported yet, in JIT mode")
        _exercise(workdir, sample or SAMPLE)
        kernels = _signatures()
        target_cpu = os.environ.get("PCAP_ANALYZER_AOT_CPU", "").strip() or "host"
        manifest: dict[str, Any] = {"fingerprint": fingerprint, "target_cpu": target_cpu, "kernels": {}}
        exports: list[tuple[str, Any, Any]] = []
        for key, (dispatcher, sigs) in sorted(kernels.items()):
            names = []
            for sig in sigs:
                export = f"k{len(exports) + 1}_{dispatcher.py_func.__name__.lstrip('_')}"
                params = ", ".join(f"a{i}" for i in range(len(sig.args)))
                namespace: dict[str, Any] = {"kernel": dispatcher}
                exec(f"def {export}({params}):\n    return kernel({params})\n", namespace)  # noqa: S102
                exports.append((export, namespace[export], sig))
                names.append([export, [_spec(a) for a in sig.args]])
            manifest["kernels"][key] = names
        built = compile_module(AOT_MODULE.rsplit(".", 1)[1], exports, workdir, target_cpu, __name__)
        manifest["module_file"] = built.name
        target = PACKAGE_DIR / built.name
        staged = target.with_name(target.name + ".tmp")
        shutil.copyfile(built, staged)
        os.replace(staged, target)  # a running process keeps its mapping of the old file
        staged_manifest = MANIFEST.with_name(MANIFEST.name + ".tmp")
        staged_manifest.write_text(json.dumps(manifest, indent=1) + "\n")
        os.replace(staged_manifest, MANIFEST)
    if not quiet:
        sys.stdout.write(
            f"compiled {len(exports)} kernel signatures ({len(kernels)} kernels) into {target} "
            f"in {time.perf_counter() - started:.1f} s\n"
        )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pcap_analyzer.aot", description=__doc__.split("\n")[0])
    parser.add_argument("--if-stale", action="store_true", help="do nothing when the module is up to date")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--sample", type=Path, help=f"capture to run the engine on (default: {SAMPLE})")
    a = parser.parse_args(argv)
    if a.if_stale and is_fresh():
        return 0
    if jit.MODE != "jit":  # this process loaded the old module: build in one that runs the JIT
        env = {**os.environ, "PCAP_ANALYZER_JIT": "1"}
        cmd = [sys.executable, "-m", "pcap_analyzer.aot", *(["--quiet"] if a.quiet else [])]
        cmd += ["--sample", str(a.sample)] if a.sample else []
        return subprocess.call(cmd, env=env)
    build(quiet=a.quiet, sample=a.sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
