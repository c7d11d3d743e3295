"""RecordChunk: a run of capture records as one byte buffer plus per-record arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class RecordChunk:
    """Records read from a capture, in file order, without any per-packet Python object.

    Packet `i` of the chunk is `buf[data_offset[i] : data_offset[i] + caplen[i]]`.

    Attributes:
        buf: uint8 array holding the packet bytes (a view of the file map or of decompressed bytes).
        data_offset: int64, start of each packet's data inside `buf`.
        caplen: uint32, captured bytes of each packet (what is in `buf`).
        wirelen: uint32, original length on the wire (`frame.len` in Wireshark).
        ts_ns: int64, timestamp in nanoseconds since the Unix epoch (interface offsets applied).
        linktype: uint16, LINKTYPE_* value of the packet's interface.
        first_index: 0-based index in the whole capture of the chunk's first record.
        stream_start: byte offset in the capture stream where this chunk's records start.
        stream_end: byte offset just past its last record (progress = stream_end / total).
    """

    buf: npt.NDArray[np.uint8]
    data_offset: npt.NDArray[np.int64]
    caplen: npt.NDArray[np.uint32]
    wirelen: npt.NDArray[np.uint32]
    ts_ns: npt.NDArray[np.int64]
    linktype: npt.NDArray[np.uint16]
    first_index: int
    stream_start: int
    stream_end: int

    def __len__(self) -> int:
        return int(self.data_offset.shape[0])
