"""Decode and flow-assignment speed on a capture (default: tests/data/netns_mixed_s128.pcap).

JIT warm, chunks read beforehand.

Run: .venv/bin/python -m tests.engine.decode.measure_speed [CAPTURE]
"""

from __future__ import annotations

import sys
import time

from pcap_analyzer.capture.open import open_capture
from pcap_analyzer.decode import decode_chunk
from pcap_analyzer.flows.tracker import FlowTracker
from tests.conftest import DATA_DIR


def main(path: str) -> None:
    with open_capture(path) as reader:
        chunks = list(reader)
    n = sum(len(c) for c in chunks)
    FlowTracker().assign(decode_chunk(chunks[0]))  # compile or load the JIT cache
    dec = flo = float("inf")
    for _ in range(7):
        t0 = time.perf_counter()
        tables = [decode_chunk(c) for c in chunks]
        dec = min(dec, time.perf_counter() - t0)
        tracker = FlowTracker()
        t0 = time.perf_counter()
        for t in tables:
            tracker.assign(t)
        flo = min(flo, time.perf_counter() - t0)
    print(
        f"{n} packets in {len(chunks)} chunk(s): decode {n / dec / 1e6:.2f} M packets/s, "
        f"flows {n / flo / 1e6:.2f} M packets/s"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(DATA_DIR / "netns_mixed_s128.pcap"))
