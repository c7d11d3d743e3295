"""Random cuts and byte corruption of real corpus captures: never an exception, never extra packets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcap_analyzer.capture.open import open_capture

HEAD = 128  # past the global header / the pcapng section header (108 bytes) and interface block
PREFIX = 300_000


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["netns_mixed_s128.pcap", "netns_mixed.pcapng", "netns_mixed_nsec.pcap"]),
    cut=st.integers(HEAD, PREFIX),
    flips=st.lists(st.tuples(st.integers(HEAD, PREFIX), st.integers(0, 255)), max_size=3),
)
def test_corpus_prefix_with_damage(
    tmp_path: Path,
    corpus_dir: Path,
    oracle: dict[str, Any],
    name: str,
    cut: int,
    flips: list[tuple[int, int]],
) -> None:
    data = bytearray((corpus_dir / name).read_bytes()[:cut])
    for off, val in flips:
        if off < len(data):
            data[off] = val
    p = tmp_path / name
    p.write_bytes(bytes(data))
    with open_capture(p, chunk_bytes=1 << 16) as reader:
        n = sum(len(c) for c in reader)
    assert n == reader.packets_done
    assert n <= (len(data) - 24) // 16
    if not any(off < len(data) for off, _ in flips):
        assert n < oracle[name]["file"]["frames"]
    if reader.truncated:
        assert reader.warnings and reader.warnings[-1].packet_index <= n
