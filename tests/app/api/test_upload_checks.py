"""Upload checks on real bytes: magic numbers, compressed captures, bombs, size limit, nothing left behind."""

from __future__ import annotations

import gzip
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import zstandard

from app.services.storage import (
    MB,
    RATIO_FLOOR,
    UnsupportedCapture,
    UploadTooLarge,
    commit_upload,
    sanitize_filename,
    store_upload,
)

PCAP_HEADER = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")  # little-endian, µs, Ethernet
PCAPNG_SHB = bytes.fromhex("0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000")


async def _chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _store(data: bytes, tmp_path: Path, *, max_bytes: int = 10 * MB, max_decompressed: int = 10 * MB):
    return await store_upload(_chunks(data), tmp_path, max_bytes=max_bytes, max_decompressed=max_decompressed)


def _leftovers(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "uploads").iterdir())


@pytest.mark.parametrize(
    ("data", "fmt", "compression", "ext"),
    [
        (PCAP_HEADER, "pcap", None, "pcap"),
        (PCAPNG_SHB, "pcapng", None, "pcapng"),
        (gzip.compress(PCAP_HEADER), "pcap", "gzip", "pcap.gz"),
        (zstandard.ZstdCompressor().compress(PCAPNG_SHB), "pcapng", "zstd", "pcapng.zst"),
    ],
)
async def test_captures_are_accepted(
    data: bytes, fmt: str, compression: str | None, ext: str, tmp_path: Path
) -> None:
    stored = await _store(data, tmp_path)
    assert (stored.format, stored.compression, stored.size) == (fmt, compression, len(data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    final = commit_upload(stored, tmp_path, "task-1")
    assert final.name == f"task-1.{ext}" and final.read_bytes() == data
    assert _leftovers(tmp_path) == [final]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GIF89a not a capture", "starts with bytes 47494638"),
        (b"", "empty"),
        (b"\xd4\xc3", "too short"),
        (gzip.compress(b"<html>hello</html>"), "does not contain a pcap or pcapng capture"),
        (zstandard.ZstdCompressor().compress(b"PK\x03\x04zip"), "does not contain a pcap or pcapng capture"),
        (gzip.compress(PCAP_HEADER * 100)[:-30], "damaged"),
    ],
)
async def test_non_captures_get_415_and_leave_nothing(data: bytes, reason: str, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedCapture) as err:
        await _store(data, tmp_path)
    assert err.value.status_code == 415 and reason in err.value.message
    assert _leftovers(tmp_path) == []


async def test_size_limit_stops_the_stream(tmp_path: Path) -> None:
    consumed = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal consumed
        yield PCAP_HEADER
        while True:
            consumed += 1
            yield b"\0" * 65536

    with pytest.raises(UploadTooLarge) as err:
        await store_upload(endless(), tmp_path, max_bytes=1 * MB, max_decompressed=10 * MB)
    assert err.value.status_code == 413 and consumed == 16
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("compress", [gzip.compress, zstandard.ZstdCompressor().compress])
async def test_decompression_bomb_gets_413(compress, tmp_path: Path) -> None:
    bomb = compress(PCAP_HEADER + b"\0" * (20 * MB))
    assert len(bomb) < MB // 10
    with pytest.raises(UploadTooLarge) as err:
        await _store(bomb, tmp_path, max_decompressed=5 * MB)
    assert "decompressed" in err.value.message
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("compress", [gzip.compress, zstandard.ZstdCompressor().compress])
async def test_bomb_under_the_size_limit_is_refused_by_its_ratio(compress, tmp_path: Path) -> None:
    """Issue 12.6: a pcap header + 200 MB of zeros compresses to a few KB; far below MAX_DECOMPRESSED_MB
    (4 GB) it is still refused, by its expansion ratio, after reading little more than RATIO_FLOOR."""
    zeros = 200 * MB
    bomb = compress(PCAP_HEADER + b"\0" * zeros)
    assert len(bomb) * 100 < RATIO_FLOOR
    started = time.monotonic()
    with pytest.raises(UploadTooLarge) as err:
        await _store(bomb, tmp_path, max_decompressed=4096 * MB)
    assert err.value.status_code == 413 and "decompression bomb" in err.value.message
    assert time.monotonic() - started < 10
    assert _leftovers(tmp_path) == []


async def test_ordinary_compressed_capture_passes_the_ratio_check(tmp_path: Path) -> None:
    data = PCAP_HEADER + bytes(range(256)) * (4 * MB // 256)  # ~4 MB, compresses ~100x: under the floor
    stored = await _store(zstandard.ZstdCompressor().compress(data), tmp_path, max_decompressed=4096 * MB)
    assert stored.format == "pcap" and stored.compression == "zstd"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\trace.pcap", "trace.pcap"),
        ("bad\x00name\r\n.pcap", "badname.pcap"),
        ("<script>x</script>.pcap", "script>.pcap"),
        ("", "capture"),
        ("...", "capture"),
        ("a" * 500, "a" * 200),
    ],
)
def test_sanitize_filename(raw: str, clean: str) -> None:
    assert sanitize_filename(raw) == clean
