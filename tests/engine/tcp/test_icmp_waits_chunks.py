"""TCP waits do not depend on where chunks end (state carried between chunks)."""

from __future__ import annotations

from pathlib import Path

from pcap_analyzer.api import analyze

MIXED = Path(__file__).resolve().parents[2] / "data" / "netns_mixed_s128.pcap"


def test_small_chunks_give_the_same_waits() -> None:
    cfg = {"idle_threshold_s": 0.1, "low_window_bytes": 65536}
    whole = analyze(MIXED, config=cfg)
    small = analyze(MIXED, config={**cfg, "chunk_bytes": 64 * 1024})
    assert whole.tcp_waits.stalled_connections > 0 and whole.tcp_waits.idle_connections > 0
    assert small.tcp_waits == whole.tcp_waits
    assert small.icmp == whole.icmp
