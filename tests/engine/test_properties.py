"""Property tests: cut or corrupted captures never crash the engine and never invent packets."""

from __future__ import annotations

import struct
import tempfile
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcap_analyzer import analyze
from pcap_analyzer.errors import CaptureFormatError
from tests.conftest import DATA_DIR

PREFIX = 48_000  # bytes of each corpus file used: a few hundred packets, so each example is fast
FILES = ["netns_mixed_s128.pcap", "netns_mixed_nsec.pcap", "netns_mixed.pcapng", "dns_hostile_names.pcap"]
CONFIG = {"max_connections": 50, "detail_connections": 2}
# Bytes of file header: the classic pcap header, or the pcapng's SHB (108) + IDB (20).
HEADER = {"netns_mixed.pcapng": 128}


@cache
def _prefix(name: str) -> bytes:
    return (DATA_DIR / name).read_bytes()[:PREFIX]


def _complete_pcap_records(data: bytes) -> int:
    """Records of a classic little-endian pcap that lie entirely inside `data` (test-side oracle)."""
    pos, n = 24, 0
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        if pos + 16 + caplen > len(data):
            break
        pos, n = pos + 16 + caplen, n + 1
    return n


def _run(data: bytes) -> int | None:
    """Analyse `data`; the packet count, or None when the file header itself is unreadable."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "x.cap"
        f.write_bytes(data)
        try:
            r = analyze(f, config=CONFIG)
        except CaptureFormatError:
            return None
    assert r.capture.packets >= 0 and r.tcp.packets <= r.capture.packets
    if r.capture.packets == 0:
        assert r.health.score is None  # nothing to judge
    else:
        assert r.health.score is not None and 0 <= r.health.score <= 100
    if r.capture.truncated:
        assert r.capture.warnings
    return r.capture.packets


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(FILES), cut=st.integers(min_value=0, max_value=PREFIX))
def test_truncation_keeps_exactly_the_complete_records(name: str, cut: int) -> None:
    data = _prefix(name)[:cut]
    packets = _run(data)
    if packets is None:
        assert cut < HEADER.get(name, 24), "only a missing file header may be refused"
        return
    if name.endswith(".pcap"):
        assert packets == _complete_pcap_records(data)
    else:
        assert packets <= len(data) // 32  # an EPB is at least 32 bytes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(FILES),
    flips=st.lists(st.tuples(st.integers(0, PREFIX - 1), st.integers(1, 255)), min_size=1, max_size=8),
)
def test_corruption_never_raises_nor_invents_packets(name: str, flips: list[tuple[int, int]]) -> None:
    data = bytearray(_prefix(name))
    for pos, xor in flips:
        if pos < len(data):
            data[pos] ^= xor
    packets = _run(bytes(data))
    if packets is None:
        assert any(pos < HEADER.get(name, 24) for pos, _ in flips), "only a damaged header may be refused"
        return
    assert packets <= (len(data) - 24) // 16  # a record is at least its 16-byte header
