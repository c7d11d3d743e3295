"""Byte sources: a memory map of an uncompressed file, or a bounded window over a gzip/zstd stream."""

from __future__ import annotations

import gzip
import mmap
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from pcap_analyzer.errors import CaptureFormatError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
READ_BLOCK = 1 << 20  # smallest decompressed read, so tiny chunk budgets do not mean tiny reads

# What a file that is not a capture usually is, by its first bytes (for the error message).
_KNOWN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "an ELF executable"),
    (b"BZh", "a bzip2 file"),
    (b"\xfd7zXZ", "an xz file"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"<", "an HTML/XML document"),
    (b"{", "a JSON document"),
    (b"\x00\x00\x00\x0cjP", "a JPEG 2000 image"),
)


def describe_magic(head: bytes) -> str:
    """One-line description of a file's first bytes, e.g. "starts with 'PK\\x03\\x04', a ZIP archive?"."""
    shown = repr(head[:4])[1:] if head[:1] != b"" else "''"
    for magic, what in _KNOWN_MAGIC:
        if head.startswith(magic):
            return f"starts with {shown}, {what}?"
    return f"starts with {shown}"


def sniff_compression(head: bytes) -> str | None:
    """ "gzip", "zstd" or None from a file's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return None


class MapSource:
    """The whole uncompressed file as a read-only uint8 memory map: chunks are views, never copies."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("rb")
        self.size = path.stat().st_size
        self._mmap = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self.buf: npt.NDArray[np.uint8] = np.frombuffer(self._mmap, dtype=np.uint8)
        self.base = 0
        self.eof = True
        self.error: str | None = None
        self._released = 0

    def window(self, pos: int, want: int) -> None:
        """Nothing to do: the map already covers the whole file."""

    def release(self, pos: int) -> None:
        """Drop mapped pages before `pos` from this process (they stay in the page cache).

        Without this, resident memory would grow to the file size. Pages re-fault from the file if a
        caller still reads an old chunk, so this never changes data.
        """
        upto = pos - pos % mmap.PAGESIZE
        if upto > self._released:
            self._mmap.madvise(mmap.MADV_DONTNEED, self._released, upto - self._released)
            self._released = upto

    def raw_position(self) -> int:
        return 0

    def close(self) -> None:
        # Views of the map handed out in chunks keep it alive; closing it under them would crash.
        self.buf = np.empty(0, dtype=np.uint8)
        try:
            self._mmap.close()
        except BufferError:
            pass
        self._file.close()


class StreamSource:
    """A decompressed stream seen through a window `buf` that starts at stream offset `base`.

    `window(pos, want)` drops bytes before `pos` and reads until `want` bytes from `pos` are held
    or the stream ends, so memory stays near the chunk budget whatever the file size.
    """

    def __init__(self, path: Path, kind: str) -> None:
        self._raw: IO[bytes] = path.open("rb")
        self.size = path.stat().st_size
        self._stream: Any
        if kind == "gzip":
            self._stream = gzip.GzipFile(fileobj=self._raw, mode="rb")
        else:
            import zstandard

            self._stream = zstandard.ZstdDecompressor().stream_reader(self._raw, read_across_frames=True)
        self.kind = kind
        self.buf: npt.NDArray[np.uint8] = np.empty(0, dtype=np.uint8)
        self.base = 0
        self.eof = False
        self.error: str | None = None

    def window(self, pos: int, want: int) -> None:
        keep = self.buf[pos - self.base :]
        self.base = pos
        if len(keep) >= want or self.eof:
            self.buf = keep
            return
        # One new array filled piece by piece: peak memory is the window plus one read, not twice it.
        new = np.empty(max(want, len(keep) + READ_BLOCK), dtype=np.uint8)
        have = len(keep)
        new[:have] = keep
        while have < want:
            data = self._read1(min(len(new) - have, READ_BLOCK))
            if not data:
                self.eof = True
                break
            new[have : have + len(data)] = np.frombuffer(data, dtype=np.uint8)
            have += len(data)
        self.buf = new[:have]

    def _read1(self, n: int) -> bytes:
        # read1, not read(n): a damaged stream then loses only its last piece.
        try:
            return bytes(self._stream.read1(n))
        except (EOFError, OSError, zlib.error) as exc:
            self.error = f"{self.kind} stream damaged: {exc}"
        except Exception as exc:  # zstandard.ZstdError: the stream ends here, with a warning
            self.error = f"{self.kind} stream damaged: {exc}"
        return b""

    def release(self, pos: int) -> None:
        """Nothing to do: `window` drops what lies before `pos`."""

    def raw_position(self) -> int:
        """Compressed bytes consumed so far (for progress)."""
        try:
            return min(self._raw.tell(), self.size)
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._raw.close()


def open_source(path: Path) -> tuple[MapSource | StreamSource, str | None]:
    """Open `path` as a byte source; returns it and its compression ("gzip", "zstd" or None)."""
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except IsADirectoryError as exc:
        raise CaptureFormatError(f"{path.name}: is a directory, not a capture file") from exc
    if not head:
        raise CaptureFormatError(f"{path.name}: empty file, not a pcap or pcapng capture")
    kind = sniff_compression(head)
    if kind is None:
        return MapSource(path), None
    return StreamSource(path, kind), kind
