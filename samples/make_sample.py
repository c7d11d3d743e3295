"""Regenerate samples/demo.pcap, the small capture of the README's CLI demo (needs scapy).

It holds a few problems whose truth is known by construction, built with the same scenario builders
as the diagnosis tests (tests/engine/diagnose/scenarios.py):
- an upload to 10.1.0.20:5001 where 3 of 400 segments are lost and resent after 200 ms timeouts;
- a healthy upload to 10.1.0.20:5002;
- a slow receiver 10.1.0.30 that advertises a zero window 12 times;
- 15 connection attempts to 10.1.0.20:9999 refused with RST;
- 60 DNS queries to 10.1.0.53, 5 of them never answered.

Usage: python samples/make_sample.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.engine.diagnose.scenarios import (  # noqa: E402
    Capture,
    dns_queries,
    lossy_transfer,
    refused_connections,
    zero_window_receiver,
)


def build(path: Path) -> Path:
    """Write the demo capture to `path`."""
    cap = Capture(start=1_767_225_600.0)  # 2026-01-01T00:00:00Z
    dns_queries(cap, "10.1.0.10", "10.1.0.53", 30, unanswered={4, 17})
    lossy_transfer(cap, "10.1.0.10", "10.1.0.20", 5001, segments=400, lost={50, 180, 320})
    refused_connections(cap, "10.1.0.11", "10.1.0.20", 9999, count=15)
    lossy_transfer(cap, "10.1.0.12", "10.1.0.20", 5002, segments=200, lost=set())
    zero_window_receiver(cap, "10.1.0.10", "10.1.0.30", 8080, zero_windows=12)
    dns_queries(cap, "10.1.0.12", "10.1.0.53", 30, unanswered={3, 9, 25})
    return cap.write(path)


if __name__ == "__main__":
    out = build(Path(__file__).with_name("demo.pcap"))
    sys.stdout.write(f"wrote {out}\n")
