"""Damaged captures: the records before the damage come back exactly, with a warning saying where."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcap_analyzer.capture.open import open_capture
from pcap_analyzer.errors import CaptureFormatError
from tests.engine.builders import (
    Rec,
    compress,
    patch,
    pcap_record_offsets,
    records_from_scapy,
    truncate,
    write_pcap,
    write_pcap_bad_length,
    write_pcapng,
)
from tests.engine.capture.helpers import read_rows


def recs(n: int = 8) -> list[Rec]:
    return records_from_scapy([bytes(range(i, i + 20 + i * 3)) for i in range(n)])


def rows_of(rs: list[Rec]) -> list[tuple[int, bytes, int, int]]:
    return [(r.ts_ns, r.data, r.origlen, 1) for r in rs]


@pytest.mark.parametrize("cut", [0, 3, 23])
def test_cut_inside_global_header_is_a_format_error(tmp_path: Path, cut: int) -> None:
    p = truncate(write_pcap(tmp_path / "a.pcap", recs()), cut)
    with pytest.raises(CaptureFormatError, match=r"a\.pcap"):
        open_capture(p)


def test_not_a_capture_says_what_it_found(tmp_path: Path) -> None:
    p = tmp_path / "x.pcap"
    p.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    with pytest.raises(CaptureFormatError, match=r"not a pcap or pcapng file .*ZIP archive"):
        open_capture(p)
    p.write_bytes(b"hello world, not a capture")
    with pytest.raises(CaptureFormatError, match=r"starts with 'hell'"):
        open_capture(p)


@pytest.mark.parametrize("where", ["header", "data"])
@pytest.mark.parametrize("index", [0, 4, 7])
def test_pcap_cut_inside_a_record(tmp_path: Path, where: str, index: int) -> None:
    rs = recs()
    p = write_pcap(tmp_path / "a.pcap", rs, nsec=True)
    offs = pcap_record_offsets(rs)
    cut = offs[index] + (7 if where == "header" else 16 + len(rs[index].data) // 2)
    truncate(p, cut)
    rows, reader = read_rows(p)
    assert rows == rows_of(rs[:index])
    assert reader.truncated
    (w,) = reader.warnings
    assert (w.offset, w.packet_index, w.bytes_left) == (offs[index], index, cut - offs[index])
    assert ("record header" if where == "header" else "record data") in w.reason


def test_pcap_cut_between_records_is_clean(tmp_path: Path) -> None:
    rs = recs()
    p = truncate(write_pcap(tmp_path / "a.pcap", rs), pcap_record_offsets(rs)[5])
    rows, reader = read_rows(p)
    assert rows == rows_of(rs[:5]) and not reader.truncated and reader.warnings == []


def test_pcap_impossible_record_length(tmp_path: Path) -> None:
    rs = recs()
    p = write_pcap_bad_length(tmp_path / "a.pcap", rs, 5, caplen=300_000, nsec=True, big_endian=True)
    rows, reader = read_rows(p)
    assert rows == rows_of(rs[:5]) and reader.truncated
    (w,) = reader.warnings
    assert (w.offset, w.packet_index) == (pcap_record_offsets(rs)[5], 5)
    assert "300000" in w.reason and "impossible" in w.reason


def test_wirelen_below_caplen_is_kept_and_reported(tmp_path: Path) -> None:
    rs = recs()
    rs[2].wirelen = 5
    rows, reader = read_rows(write_pcap(tmp_path / "a.pcap", rs, nsec=True))
    assert rows == rows_of(rs) and not reader.truncated
    (w,) = reader.warnings
    assert w.packet_index == 2 and "original length" in w.reason


def pcapng_offsets(p: Path) -> list[int]:
    """Offsets of every block in a little-endian pcapng written by the builders."""
    b, out, i = p.read_bytes(), [], 0
    while i < len(b):
        out.append(i)
        i += struct.unpack_from("<I", b, i + 4)[0]
    return out


@pytest.mark.parametrize("damage", ["length", "trailer", "cut"])
def test_pcapng_corrupt_block(tmp_path: Path, damage: str) -> None:
    rs = recs()
    p = write_pcapng(tmp_path / "a.pcapng", rs)
    blocks = pcapng_offsets(p)  # SHB, IDB, then one EPB per record
    at = blocks[2 + 4]
    if damage == "length":
        patch(p, at + 4, struct.pack("<I", 13))
    elif damage == "trailer":
        patch(p, blocks[2 + 5] - 4, struct.pack("<I", 999))
    else:
        truncate(p, at + 30)
    rows, reader = read_rows(p)
    assert rows == rows_of(rs[:4]) and reader.truncated
    (w,) = reader.warnings
    assert (w.offset, w.packet_index) == (at, 4)


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_compressed_stream_cut(tmp_path: Path, kind: str) -> None:
    rs = records_from_scapy([bytes([i % 256]) * 1500 for i in range(300)])
    c = compress(write_pcap(tmp_path / "a.pcap", rs, nsec=True), kind)
    truncate(c, c.stat().st_size * 2 // 3)
    rows, reader = read_rows(c, chunk_bytes=10_000)
    assert 0 < len(rows) < len(rs)
    assert rows == rows_of(rs[: len(rows)])
    assert reader.truncated and reader.warnings[0].packet_index == len(rows)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.sampled_from(["pcap", "pcapng"]),
    cut=st.integers(0, 2000),
    flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=4),
    chunk=st.sampled_from([1, 64, 1 << 20]),
)
def test_random_damage_never_raises_or_invents_records(
    tmp_path: Path, fmt: str, cut: int, flips: list[tuple[int, int]], chunk: int
) -> None:
    rs = recs(10)
    p = (write_pcap if fmt == "pcap" else write_pcapng)(tmp_path / f"h.{fmt}", rs)
    b = bytearray(p.read_bytes())
    for off, val in flips:
        if off < len(b):
            b[off] = val
    b = b[:cut]
    p.write_bytes(bytes(b))
    header = 24 if fmt == "pcap" else 28  # the global header / first section header block
    try:
        rows, reader = read_rows(p, chunk_bytes=chunk)
    except CaptureFormatError:
        assert len(b) < header or any(off < header for off, _ in flips)
        return
    assert reader.packets_done == len(rows)
    intact = all(off >= len(b) for off, _ in flips)
    if intact:  # a pure truncation keeps exactly the whole records before the cut
        assert rows == rows_of(rs[: len(rows)])
    else:
        # A corrupted length can make pcap (which has no sync marks) split a record's bytes into
        # several "records"; all we can promise is no record is invented beyond the bytes present.
        assert len(rows) <= (len(b) - header) // 16
    assert all(len(data) <= len(b) for _, data, _, _ in rows)
    if reader.truncated:
        assert reader.warnings


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_cut_at_every_byte(tmp_path: Path, fmt: str) -> None:
    rs = recs(4)
    full = (write_pcap if fmt == "pcap" else write_pcapng)(tmp_path / f"full.{fmt}", rs).read_bytes()
    if fmt == "pcap":
        header, ends = 24, pcap_record_offsets(rs)
    else:
        blocks = pcapng_offsets(tmp_path / f"full.{fmt}") + [len(full)]
        header, ends = blocks[1], blocks[1:]  # first section header; then IDB, EPBs (boundaries)
    p = tmp_path / f"cut.{fmt}"
    for cut in range(len(full) + 1):
        p.write_bytes(full[:cut])
        if cut < header:
            with pytest.raises(CaptureFormatError):
                open_capture(p)
            continue
        rows, reader = read_rows(p)
        record_ends = ends[2:] if fmt == "pcapng" else ends[1:]
        whole = sum(1 for e in record_ends if e <= cut)
        assert rows == rows_of(rs[:whole]), cut
        assert reader.truncated == (cut not in ends), cut
        if reader.truncated:
            (w,) = reader.warnings
            assert w.packet_index == whole and w.offset == max(e for e in ends if e <= cut)
            assert w.bytes_left == cut - w.offset


def test_empty_and_compressed_non_captures(tmp_path: Path) -> None:
    p = tmp_path / "empty.pcap"
    p.write_bytes(b"")
    with pytest.raises(CaptureFormatError, match="empty"):
        open_capture(p)
    q = tmp_path / "notes.txt"
    q.write_bytes(b"%PDF-1.4 not a capture")
    for kind in ("gzip", "zstd"):
        with pytest.raises(CaptureFormatError, match=f"{kind}-compressed file: not a pcap.*PDF"):
            open_capture(compress(q, kind))
