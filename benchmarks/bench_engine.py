"""Time `pcap-analyzer analyze --json` against tcptrace, tshark (and dpkt/scapy loops) on the same capture.

Usage: python benchmarks/bench_engine.py [--packets N | --capture F.pcap] [--repeat K] [--skip-tshark]
                                         [--startup-runs N] [--module] [--markdown]
       python benchmarks/bench_engine.py --startup [--startup-runs N]
       python benchmarks/bench_engine.py --memory [--scale-mb MB]

Every measurement is a whole process (imports included); the engine's modules are byte-compiled and it
runs once on a small file first so the bytecode (and Numba's cache, when the kernels are not compiled
ahead of time by `python -m pcap_analyzer.aot`) is warm, as in an installed copy (an
editable install under PYTHONDONTWRITEBYTECODE=1 would otherwise recompile ~60 modules per run), then K
times (the fastest is shown). Peak RSS comes from the child's own rusage (os.wait4), so runs never mix.
dpkt and scapy (when installed) loop over the first packets only, and their rates are scaled to the
whole capture for the tshark ratio. tcptrace (`tcptrace -n -l -r F`: per-connection TCP analysis with
RTT and retransmissions, the C tool a network engineer would reach for) runs on the same file in the same
run, best of K too. The start-up figure is the median of --startup-runs whole-process runs on the
bundled samples/demo.pcap (a tiny capture: its time is almost all fixed cost); --startup prints only it.
--module runs `python -m pcap_analyzer` instead of the console script. --markdown also prints the run's
figures as the README's benchmark table, dated.
--memory analyses a capture of ~MB and one 4x bigger (generated, then deleted) and prints the peak
RSS of both and its growth.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_capture import replicate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(os.environ.get("PCAP_CORPUS_DIR", ROOT / "tests" / "data")) / "netns_mixed_s128.pcap"
SMALL = ROOT / "samples" / "demo.pcap"
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


def run(cmd: list[str]) -> tuple[float, float, float, str]:
    """Run `cmd`; returns (wall s, CPU s, peak RSS MB of that child, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read() if p.stdout else ""
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, out


def best(cmd: list[str], repeat: int) -> tuple[float, float, float, str]:
    """`run` `repeat` times: the fastest wall (and that run's CPU), the highest peak RSS."""
    runs = [run(cmd) for _ in range(max(1, repeat))]
    fastest = min(runs, key=lambda r: r[0])
    return fastest[0], fastest[1], max(r[2] for r in runs), fastest[3]


def line(
    name: str,
    packets: int,
    size: int,
    wall: float,
    cpu: float,
    rss: float,
    ref: float | None = None,
    tcptrace: float | None = None,
) -> None:
    ratio = f" {ref / wall:6.1f}x vs tshark" if ref else ""
    if tcptrace:
        ratio += f" {wall / tcptrace:5.2f}x tcptrace's time"
    print(
        f"{name:<30} {packets:>11,} pkts {size / 1e6:8.1f} MB {wall:7.2f} s wall {cpu:7.2f} s CPU "
        f"{packets / wall / 1e6:6.2f} Mpkt/s {size / wall / 1e6:7.1f} MB/s {rss:6.0f} MB peak RSS{ratio}"
    )


def engine(capture: Path, out: Path, repeat: int = 1) -> tuple[float, float, float]:
    wall, cpu, rss, _ = best([*ENGINE, "analyze", str(capture), "--json", str(out), "--quiet"], repeat)
    return wall, cpu, rss


def warm(workdir: Path) -> None:
    """Byte-compile the engine and fill Numba's on-disk cache."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "pcap_analyzer")], check=True)
    engine(TEMPLATE, workdir / "warm.json")


def count_packets(cap: Path, workdir: Path) -> int:
    """Packets in `cap`: from Wireshark's capinfos when installed, else from the engine's own JSON report."""
    if shutil.which("capinfos"):
        cmd = ["capinfos", "-c", "-M", "-T", str(cap)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        return int(out.stdout.strip().splitlines()[-1].split("\t")[-1])
    engine(cap, workdir / "count.json")
    return int(json.loads((workdir / "count.json").read_text())["capture"]["packets"])


def speed(a: argparse.Namespace) -> None:
    """Engine vs tshark (and dpkt/scapy loops) on one capture of >= --packets packets."""
    cap = a.capture
    if cap is None:
        cap = a.workdir / "bench.pcap"
        replicate(TEMPLATE, cap, min_packets=a.packets)
    packets, size = count_packets(cap, a.workdir), cap.stat().st_size
    print(f"capture: {cap} ({packets:,} packets, {size / 1e6:,.1f} MB), engine: {' '.join(ENGINE)}")
    mode = subprocess.run(
        [sys.executable, "-c", "from pcap_analyzer import jit; print(jit.MODE)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    kernels = "compiled ahead of time" if mode == "aot" else "Numba JIT, cache warm"
    print(f"times: best of {a.repeat} runs, whole processes (imports, kernels {kernels}, JSON written)")
    warm(a.workdir)
    tiny = startup(a)
    wall, cpu, rss = engine(cap, a.workdir / "bench.json", a.repeat)
    ref = ttime = tcpu = None
    ours = f"{packets / 1e6:.2f} M packets, {size / 1e6:.0f} MB: `pcap-analyzer analyze --json`"
    table = [(ours, wall, cpu, rss, f"{packets / wall / 1e6:.2f} Mpkt/s")]
    if shutil.which("tcptrace"):
        ttime, tcpu, trss, _ = best(["tcptrace", "-n", "-l", "-r", str(cap)], a.repeat)
        line("tcptrace -n -l -r", packets, size, ttime, tcpu, trss)
        table.append(
            (
                "same file: `tcptrace -n -l -r`",
                ttime,
                tcpu,
                trss,
                f"ours {wall / ttime:.2f}x its wall, {cpu / tcpu:.2f}x its CPU",
            )
        )
    else:
        print("tcptrace: skipped (not installed; Debian package tcptrace)")
    if not a.skip_tshark and shutil.which("tshark"):
        ref, shark_cpu, trss, _ = run(["tshark", "-r", str(cap), "-2", "-q", "-z", "io,stat,0"])
        line("tshark -2 -z io,stat,0", packets, size, ref, shark_cpu, trss)
        table.append(
            ("same file: `tshark -2 -q -z io,stat,0`", ref, shark_cpu, trss, f"ours {ref / wall:.1f}x faster")
        )
    line("pcap-analyzer analyze --json", packets, size, wall, cpu, rss, ref, ttime)
    table.append((f"start-up: `{SMALL.name}` end to end (median)", *tiny, "target <= 0.12 s"))
    if a.markdown:
        print_markdown(table)
    for name, code, limit in (("dpkt loop", DPKT_LOOP, 300_000), ("scapy loop", SCAPY_LOOP, 20_000)):
        if importlib.util.find_spec(name.split()[0]) is None:
            print(f"{name}: skipped ({name.split()[0]} is not installed)")
            continue
        w, c, r, out = run([sys.executable, "-c", code, str(cap), str(limit)])
        n = int(out.strip() or 0)
        line(f"{name} (first {n:,} pkts)", n, size * n // packets, w, c, r, ref and ref * n / packets)
    if ref:
        rate = packets / wall / 1e6
        print(f"engine vs tshark: {ref / wall:.1f}x faster (target >= 20x); {rate:.2f} Mpkt/s (target >= 1)")
    if ttime and tcpu:
        print(
            f"engine vs tcptrace: {wall / ttime:.2f}x tcptrace's wall time (target <= 0.6x), "
            f"{cpu / tcpu:.2f}x its CPU time"
        )


def print_markdown(rows: list[tuple[str, float, float, float, str]]) -> None:
    """The README's benchmark table, dated, from this run's figures."""
    print(f"\nRun of {time.strftime('%Y-%m-%d')} ({os.cpu_count()} cores):\n")
    print("| capture / command | wall | CPU | peak RSS | ratio |\n|---|---|---|---|---|")
    for name, wall, cpu, rss, ratio in rows:
        print(f"| {name} | {wall:.2f} s | {cpu:.2f} s | {rss:.0f} MB | {ratio} |")


def startup(a: argparse.Namespace) -> tuple[float, float, float]:
    """Median wall time of --startup-runs whole-process analyses of the tiny bundled sample."""
    runs = max(1, a.startup_runs)
    cmd = [*ENGINE, "analyze", str(SMALL), "--json", str(a.workdir / "tiny.json"), "--quiet"]
    wall, cpu, rss, _ = median_run(cmd, runs)
    print(
        f"start-up ({SMALL.name}, {SMALL.stat().st_size / 1e3:,.0f} kB, median of {runs} runs): "
        f"{wall:.3f} s wall, {cpu:.3f} s CPU, {rss:.0f} MB peak RSS (target <= 0.12 s wall)"
    )
    bare, numpy = (median_run([sys.executable, "-c", code], runs)[0] for code in ("pass", "import numpy"))
    print(
        f"  the floor (median of as many runs): the bare interpreter {bare:.3f} s, "
        f"the interpreter importing NumPy {numpy:.3f} s"
    )
    return wall, cpu, rss


def median_run(cmd: list[str], runs: int) -> tuple[float, float, float, str]:
    """The `run` of median wall time among `runs` runs of `cmd`."""
    ordered = sorted((run(cmd) for _ in range(runs)), key=lambda r: r[0])
    return ordered[len(ordered) // 2]


def memory(a: argparse.Namespace) -> None:
    """Peak RSS on a capture of --scale-mb MB and on one 4x bigger (same traffic mix)."""
    need = 5 * a.scale_mb * 1_000_000 * 1.05
    free = shutil.disk_usage(a.workdir).free
    if free < need:
        raise SystemExit(f"{a.workdir}: {free / 1e9:.1f} GB free, the memory check needs {need / 1e9:.1f} GB")
    warm(a.workdir)
    results = []
    for factor in (1, 4):
        f = a.workdir / f"scale{factor}.pcap"
        n, s = replicate(TEMPLATE, f, min_bytes=factor * a.scale_mb * 1_000_000)
        try:
            w, c, r = engine(f, a.workdir / f"scale{factor}.json")
        finally:
            f.unlink()
        line(f"x{factor} ({s / 1e9:.2f} GB)", n, s, w, c, r)
        results.append(r)
    print(
        f"peak RSS x1 {results[0]:.0f} MB -> x4 {results[1]:.0f} MB: "
        f"growth {100 * (results[1] / results[0] - 1):+.1f}% (targets: <= 200 MB at 2 GB, growth < 30%)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--capture", type=Path, help="use this capture instead of generating one")
    ap.add_argument("--packets", type=int, default=1_000_000, help="packets of the generated capture")
    ap.add_argument("--repeat", type=int, default=3, help="engine runs per measurement (best is kept)")
    ap.add_argument("--startup-runs", type=int, default=9, help="runs of the start-up median")
    ap.add_argument("--startup", action="store_true", help="measure only the start-up figure")
    ap.add_argument("--memory", action="store_true", help="run the peak-RSS growth check instead")
    ap.add_argument("--scale-mb", type=int, default=500, help="base size of the --memory run (x1, x4)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/pcap-bench"))
    ap.add_argument("--skip-tshark", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="also print the README's table of this run")
    ap.add_argument(
        "--module", action="store_true", help="run `python -m pcap_analyzer` instead of the console script"
    )
    a = ap.parse_args()
    if a.module:
        global ENGINE
        ENGINE = [sys.executable, "-m", "pcap_analyzer"]
    a.workdir.mkdir(parents=True, exist_ok=True)
    if a.memory:
        memory(a)
    elif a.startup:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "pcap_analyzer")], check=True)
        startup(a)
    else:
        speed(a)


if __name__ == "__main__":
    main()
