"""Read a whole capture into plain tuples, for comparing with the records a builder wrote."""

from __future__ import annotations

from pathlib import Path

from pcap_analyzer.capture.open import CHUNK_BYTES, CaptureReader, open_capture

Row = tuple[int, bytes, int, int]  # ts_ns, captured bytes, wirelen, linktype


def read_rows(path: Path, chunk_bytes: int = CHUNK_BYTES) -> tuple[list[Row], CaptureReader]:
    """All records of `path` as (ts_ns, data, wirelen, linktype), and the (closed) reader."""
    rows: list[Row] = []
    with open_capture(path, chunk_bytes=chunk_bytes) as reader:
        for c in reader:
            for i in range(len(c)):
                o = int(c.data_offset[i])
                rows.append(
                    (
                        int(c.ts_ns[i]),
                        bytes(c.buf[o : o + int(c.caplen[i])]),
                        int(c.wirelen[i]),
                        int(c.linktype[i]),
                    )
                )
    return rows, reader
