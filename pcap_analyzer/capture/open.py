"""open_capture: sniff the file, pick the reader, and iterate RecordChunks under one byte budget."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

from pcap_analyzer.capture.chunk import RecordChunk
from pcap_analyzer.capture.pcap import GLOBAL_HEADER_LEN, PcapWalker, is_pcap_magic, parse_global_header
from pcap_analyzer.capture.pcapng import PcapngWalker, is_pcapng_magic
from pcap_analyzer.capture.source import MapSource, StreamSource, describe_magic, open_source
from pcap_analyzer.capture.walk import WalkOut
from pcap_analyzer.errors import CaptureFormatError, CaptureWarning

CHUNK_BYTES = 8 << 20  # the chunk budget: bytes of capture stream per RecordChunk ...
# ... and at most this many records. A chunk's decoded table (~180 bytes a packet) and the analysis of it
# grow with its packets, not its bytes: 8 MB of 128-byte snapshots would be ~70,000 packets, ~45 MB in
# flight across the two threads (measured: peak RSS 151 -> 127 MB on 1 M such packets, ~5 % more CPU).
CHUNK_PACKETS = 32_768
HEAD_BYTES = 1 << 16  # enough for any sane pcapng section header


class CaptureReader:
    """An open capture: iterate it for `RecordChunk`s; counters and warnings update as it is read.

    Attributes:
        format: "pcap" or "pcapng".
        compression: None, "gzip" or "zstd".
        link_types: sorted LINKTYPE values declared (pcap header; pcapng IDBs read so far, which
            includes those right after the first section header as soon as the file is open).
        snaplen: the capture's snapshot length when it declares one, else None.
        bytes_total: size of the file on disk.
        bytes_done: bytes of the file consumed so far (compressed bytes for a compressed file).
        packets_done: records yielded so far.
        warnings: damage found (cut file, impossible length, corrupt block); reading stopped there.
        truncated: True when the capture did not end cleanly.
    """

    def __init__(self, path: str | os.PathLike[str], *, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.path = Path(path)
        self.chunk_bytes = max(int(chunk_bytes), 1)
        self._src: MapSource | StreamSource
        self._src, self.compression = open_source(self.path)
        self.bytes_total = self._src.size
        self.bytes_done = 0
        self.packets_done = 0
        self.warnings: list[CaptureWarning] = []
        self.truncated = False
        self._done = False
        try:
            self._walker, self._pos = self._open_format()
        except BaseException:
            self._src.close()
            raise
        self.format: str = self._walker.format

    def _open_format(self) -> tuple[PcapWalker | PcapngWalker, int]:
        src, name = self._src, self.path.name
        src.window(0, HEAD_BYTES)
        head = bytes(src.buf[:HEAD_BYTES])
        inner = f"{self.compression}-compressed file: " if self.compression else ""
        if src.error and len(head) < 4:
            raise CaptureFormatError(f"{name}: {src.error}")
        if is_pcap_magic(head):
            return PcapWalker(parse_global_header(head[:GLOBAL_HEADER_LEN], name)), GLOBAL_HEADER_LEN
        if is_pcapng_magic(head):
            walker = PcapngWalker()
            nxt = walker.control_block(src.buf, 0)
            if isinstance(nxt, str):
                why = "section header cut short" if nxt == "need" else nxt
                raise CaptureFormatError(f"{name}: {inner}bad pcapng file ({why})")
            return walker, walker.leading_idbs(src.buf, nxt)
        if not head:
            raise CaptureFormatError(f"{name}: {inner}empty, not a pcap or pcapng capture")
        raise CaptureFormatError(f"{name}: {inner}not a pcap or pcapng file ({describe_magic(head)})")

    @property
    def link_types(self) -> list[int]:
        return list(self._walker.link_types)

    @property
    def snaplen(self) -> int | None:
        return self._walker.snaplen

    def __iter__(self) -> Iterator[RecordChunk]:
        src, walker = self._src, self._walker
        out = WalkOut(min(self.chunk_bytes // walker.min_record + 2, CHUNK_PACKETS))
        want = self.chunk_bytes
        while not self._done:
            start = self._pos
            src.release(start)
            src.window(start, want)
            rel = start - src.base
            rel_end, status = walker.walk(src.buf, rel, rel + self.chunk_bytes, out)
            self._pos = src.base + rel_end
            if status == "need" and out.n == 0 and not src.eof:
                want = max(want * 2, self.chunk_bytes)  # one record bigger than the window: widen it
                continue
            want = self.chunk_bytes
            chunk = self._chunk(out, rel, rel_end, start) if out.n else None
            if status is not None and (status != "need" or src.eof):
                self._finish(status, rel_end)
            self.bytes_done = self.bytes_total if self._done else self._progress()
            if chunk is not None:
                yield chunk

    def _progress(self) -> int:
        if isinstance(self._src, MapSource):
            return self._pos
        return self._src.raw_position()

    def _chunk(self, out: WalkOut, rel: int, rel_end: int, start: int) -> RecordChunk:
        n = out.n
        # A view, no copy: of the file map, or of a stream window that is replaced, never written to.
        buf, shift = self._src.buf[rel:rel_end], rel
        chunk = RecordChunk(
            buf=buf,
            data_offset=out.off[:n] - shift,
            caplen=out.cap[:n].copy(),
            wirelen=out.wire[:n].copy(),
            ts_ns=out.ts[:n].copy(),
            linktype=out.lt[:n].copy(),
            first_index=self.packets_done,
            stream_start=start,
            stream_end=start + (rel_end - rel),
        )
        self._check_lengths(chunk)
        self.packets_done += n
        return chunk

    def _check_lengths(self, chunk: RecordChunk) -> None:
        bad = np.flatnonzero(chunk.wirelen < chunk.caplen)
        if bad.size and not any("original length" in w.reason for w in self.warnings):
            i = int(bad[0])
            self.warnings.append(
                CaptureWarning(
                    offset=chunk.stream_start + int(chunk.data_offset[i]),
                    packet_index=chunk.first_index + i,
                    reason="record's original length is smaller than its captured length (kept as recorded)",
                )
            )

    def _finish(self, status: str, rel_end: int) -> None:
        """End of stream: clean, cut short, or damaged; record a warning unless clean."""
        self._done = True
        src = self._src
        left = len(src.buf) - rel_end
        if status == "need":
            if left == 0 and src.error is None:
                return
            reason = self._walker.cut_reason(src.buf, rel_end) if left else "no more data"
            if src.error:
                reason = f"{src.error}; {reason}"
        else:
            reason = status
        bytes_left = left if src.eof else None  # unknown when damage stops a stream before its end
        self.warnings.append(CaptureWarning(src.base + rel_end, self.packets_done, reason, bytes_left))
        self.truncated = True

    def close(self) -> None:
        self._src.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_capture(path: str | os.PathLike[str], *, chunk_bytes: int = CHUNK_BYTES) -> CaptureReader:
    """Open a pcap/pcapng file (optionally gzip/zstd-compressed) for chunked reading.

    Args:
        path: the capture file.
        chunk_bytes: capture-stream bytes per chunk (memory is a parameter; records never split).

    Returns:
        A CaptureReader (context manager, iterable of RecordChunk).

    Raises:
        CaptureFormatError: the file is empty, not a capture, or its global header is damaged.

    Example:
        >>> with open_capture("trace.pcapng") as reader:  # doctest: +SKIP
        ...     packets = sum(len(chunk) for chunk in reader)
    """
    return CaptureReader(path, chunk_bytes=chunk_bytes)
