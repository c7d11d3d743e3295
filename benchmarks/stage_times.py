"""Where an analysis spends its time, stage by stage, and what that says about using a second core.

Usage: python benchmarks/stage_times.py CAPTURE [--runs N]

`analyze()` reads in two threads (pcap_analyzer/api.py): the read-ahead thread reads, decodes, assigns
flows and runs the analyzers that read packet bytes; the caller's thread runs the TCP analysis and the
other analyzers. This script times each stage by wrapping its method (it knows the pipeline's private
names, so it moves with them), first with both sides run one after the other in one thread (each stage's
own cost, without contention), then as the engine runs (two threads: the wall time of the reading phase).
It prints both sides' totals and the bound a split of the TCP analysis over two workers could reach.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pcap_analyzer.api as api
from pcap_analyzer.progress import Phase

READ_AHEAD = "read-ahead thread"
CALLER = "caller's thread"


class _Serial:
    """Stands in for api._ReadAhead: prepares each chunk in the caller's thread, just before feeding it."""

    def __init__(self, reader: Any, prepare: Callable[[Any], Any]) -> None:
        self._reader, self._prepare = reader, prepare

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __iter__(self) -> Iterator[tuple[Any, int, int]]:
        for chunk in self._reader:
            yield self._prepare(chunk), int(self._reader.bytes_done), int(self._reader.packets_done)


def _timed(
    times: Counter[tuple[str, str]], side: str, name: str, fn: Callable[..., Any]
) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[side, name] += time.perf_counter() - t0

    return timed


def _instrument(times: Counter[tuple[str, str]]) -> None:
    """Wrap every stage of the pipelines built from now on."""
    build = api._Pipeline.__init__

    def init(pipeline: Any, cfg: Any) -> None:
        build(pipeline, cfg)
        stages = [
            (READ_AHEAD, "flow assignment", pipeline.tracker, "assign"),
            (READ_AHEAD, "IP reassembly", pipeline.reassembler, "apply"),
            (READ_AHEAD, "DNS over TCP", pipeline.dns_tcp, "update"),
            (READ_AHEAD, "capture facts", pipeline.facts, "add"),
            (CALLER, "TCP analysis", pipeline.tcp, "update"),
        ]
        stages += [(READ_AHEAD, type(a).__name__, a, "update") for a in pipeline.early]
        stages += [(CALLER, type(a).__name__, a, "update") for a in pipeline.late]
        for side, name, obj, method in stages:
            setattr(obj, method, _timed(times, side, name, getattr(obj, method)))

    api._Pipeline.__init__ = init  # type: ignore[method-assign]
    api.decode_chunk = _timed(times, READ_AHEAD, "decode", api.decode_chunk)
    read = api.CaptureReader.__iter__

    def chunks(reader: Any) -> Iterator[Any]:
        it = read(reader)
        while True:
            t0 = time.perf_counter()
            chunk = next(it, None)
            times[READ_AHEAD, "read"] += time.perf_counter() - t0
            if chunk is None:
                return
            yield chunk

    api.CaptureReader.__iter__ = chunks  # type: ignore[method-assign]


def _run(capture: str, times: Counter[tuple[str, str]]) -> tuple[float, float]:
    """One analysis: (reading phase wall s, whole analysis wall s)."""
    marks: dict[Phase, float] = {}
    started = time.perf_counter()
    api.analyze(capture, on_progress=lambda *args: marks.setdefault(args[3], time.perf_counter()))
    return marks[Phase.ANALYZING] - marks[Phase.READING], time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture")
    ap.add_argument("--runs", type=int, default=5, help="runs of each mode")
    a = ap.parse_args()
    runs = max(1, a.runs)
    times: Counter[tuple[str, str]] = Counter()
    _instrument(times)
    _run(a.capture, Counter())  # warm: page cache, first-use imports
    threaded = [_run(a.capture, Counter()) for _ in range(runs)]
    times.clear()
    two_threads = api._ReadAhead
    api._ReadAhead = _Serial  # type: ignore[assignment,misc]
    serial = [_run(a.capture, times) for _ in range(runs)]
    api._ReadAhead = two_threads  # type: ignore[misc]
    side_total = {
        side: sum(v for (s, _), v in times.items() if s == side) / runs for side in (READ_AHEAD, CALLER)
    }
    print(
        f"{a.capture}: {runs} runs of each mode; stage costs are the mean of the one-thread runs "
        f"(no contention), phase times the median"
    )
    for side in (READ_AHEAD, CALLER):
        print(f"{side}: {side_total[side] * 1e3:.0f} ms")
        rows = sorted(((v / runs, name) for (s, name), v in times.items() if s == side), reverse=True)
        for cost, name in rows:
            print(f"  {name:<24} {cost * 1e3:7.1f} ms")
    one = statistics.median(r[0] for r in serial)
    two = statistics.median(r[0] for r in threaded)
    tcp = times[CALLER, "TCP analysis"] / runs
    print(f"reading phase: {one:.3f} s in one thread, {two:.3f} s as the engine runs it (two threads)")
    print(f"whole analysis (two threads): {statistics.median(r[1] for r in threaded):.3f} s")
    longest = max(side_total.values())
    print(
        f"the reading phase cannot end before its busier side: {longest:.3f} s "
        f"({max(side_total, key=side_total.__getitem__)})"
    )
    cores = os.cpu_count() or 1
    split = max(side_total[READ_AHEAD], side_total[CALLER] - tcp / 2, sum(side_total.values()) / cores)
    print(
        f"TCP analysis ({tcp:.3f} s) split over two workers by flow hash, at no cost and perfectly even, "
        f"on {cores} cores: the reading phase would still need {split:.3f} s, a gain of at most "
        f"{longest - split:.3f} s"
    )


if __name__ == "__main__":
    main()
