"""Time `pcap-analyzer analyze --json` against tshark (and dpkt/scapy loops) on the same big capture.

Usage: python benchmarks/bench_engine.py [--capture F.pcap] [--packets N] [--scale-mb MB] [--skip-tshark]

Every measurement is a whole process (imports included); the engine runs once on a small file first
so Numba's cache is warm. Peak RSS comes from the child's own rusage (os.wait4), so runs never mix.
The memory-scaling run analyses a capture of ~MB and one 4x bigger and prints the peak RSS growth.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_capture import replicate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = (
    Path(os.environ.get("PCAP_CORPUS_DIR", ROOT.parent / "shared" / "corpus")) / "netns_mixed_s128.pcap"
)
ENGINE = [str(Path(sys.executable).with_name("pcap-analyzer"))]
if not Path(ENGINE[0]).exists():
    ENGINE = [sys.executable, "-m", "pcap_analyzer"]

DPKT_LOOP = """
import sys, dpkt
n = tcp = 0
limit = int(sys.argv[2])
with open(sys.argv[1], 'rb') as f:
    for ts, buf in dpkt.pcap.Reader(f):
        eth = dpkt.ethernet.Ethernet(buf)
        if isinstance(eth.data, dpkt.ip.IP) and isinstance(eth.data.data, dpkt.tcp.TCP):
            tcp += 1
        n += 1
        if n >= limit:
            break
print(n)
"""
SCAPY_LOOP = """
import sys
from scapy.all import PcapReader, TCP
n = tcp = 0
limit = int(sys.argv[2])
for p in PcapReader(sys.argv[1]):
    tcp += TCP in p
    n += 1
    if n >= limit:
        break
print(n)
"""


def run(cmd: list[str]) -> tuple[float, float, str]:
    """Run `cmd`; returns (wall seconds, peak RSS MB of that child, stdout); prints its CPU time."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read() if p.stdout else ""
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
    cpu = usage.ru_utime + usage.ru_stime
    print(f"  [{cmd[0].rsplit('/', 1)[-1]} {' '.join(cmd[1:3])[:40]}: {wall:.2f} s wall, {cpu:.2f} s CPU]")
    return wall, usage.ru_maxrss / 1024.0, out


def line(name: str, packets: int, size: int, wall: float, rss: float, ref: float | None = None) -> None:
    ratio = f"  {ref / wall:6.1f}x vs tshark" if ref else ""
    print(
        f"{name:<24} {wall:8.2f} s {packets / wall / 1e6:7.2f} Mpkt/s {size / wall / 1e6:8.1f} MB/s "
        f"{rss:8.0f} MB peak RSS{ratio}"
    )


def engine(capture: Path, out: Path) -> tuple[float, float]:
    wall, rss, _ = run([*ENGINE, "analyze", str(capture), "--json", str(out), "--quiet"])
    return wall, rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--capture", type=Path, help="use this capture instead of generating one")
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--scale-mb", type=int, default=500, help="base size of the memory-scaling run (x1, x4)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/pcap-bench"))
    ap.add_argument("--skip-tshark", action="store_true")
    a = ap.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    cap = a.capture
    if cap is None:
        cap = a.workdir / "bench.pcap"
        packets, size = replicate(TEMPLATE, cap, min_packets=a.packets)
    packets = int(
        subprocess.run(["capinfos", "-c", "-M", "-T", str(cap)], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
        .split("\t")[-1]
    )
    size = cap.stat().st_size
    print(f"capture: {cap} ({packets:,} packets, {size / 1e6:,.1f} MB), engine: {' '.join(ENGINE)}")
    engine(TEMPLATE, a.workdir / "warm.json")  # warm Numba's on-disk cache
    wall, rss = engine(cap, a.workdir / "bench.json")
    ref = None
    if not a.skip_tshark and shutil.which("tshark"):
        ref, trss, _ = run(["tshark", "-r", str(cap), "-2", "-q", "-z", "io,stat,0"])
        line("tshark -2 io,stat,0", packets, size, ref, trss)
    line("pcap-analyzer analyze", packets, size, wall, rss, ref)
    for name, code, limit in (("dpkt loop", DPKT_LOOP, 300_000), ("scapy loop", SCAPY_LOOP, 20_000)):
        try:
            w, r, out = run([sys.executable, "-c", code, str(cap), str(limit)])
        except SystemExit as exc:
            print(f"{name}: skipped ({exc})")
            continue
        n = int(out.strip() or 0)
        line(f"{name} ({n:,} pkts)", n, size * n // packets, w, r, ref and ref * n / packets)
    print("\nmemory scaling (engine only):")
    results = []
    for factor in (1, 4):
        f = a.workdir / f"scale{factor}.pcap"
        n, s = replicate(TEMPLATE, f, min_bytes=factor * a.scale_mb * 1_000_000)
        w, r = engine(f, a.workdir / f"scale{factor}.json")
        line(f"x{factor} ({s / 1e9:.2f} GB)", n, s, w, r)
        results.append(r)
        f.unlink()
    print(f"peak RSS growth x1 -> x4: {100 * (results[1] / results[0] - 1):+.1f}%")


if __name__ == "__main__":
    main()
