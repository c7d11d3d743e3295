"""Classic pcap: global header, and the Numba record-header walk that indexes a chunk.

A record whose captured length exceeds max(snaplen, 262144) (capped at 16 MiB) is impossible: the walk
stops there. A record whose original length is below its captured length is kept as recorded (the
reader reports it once). pcap has no sync marks, so there is no resynchronisation after damage.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pcap_analyzer.capture.walk import WalkOut, u32
from pcap_analyzer.errors import CaptureFormatError
from pcap_analyzer.jit import kernel

GLOBAL_HEADER_LEN = 24
MAX_RECORD = 1 << 24  # no snaplen, however large the header claims, makes a bigger record plausible
MIN_MAX_CAPLEN = 262144  # Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD

# magic (as read little-endian) -> (byte-swapped?, nanoseconds?, record header length)
_MAGICS: dict[int, tuple[bool, bool, int]] = {
    0xA1B2C3D4: (False, False, 16),
    0xD4C3B2A1: (True, False, 16),
    0xA1B23C4D: (False, True, 16),
    0x4D3CB2A1: (True, True, 16),
    0xA1B2CD34: (False, False, 24),  # Kuznetzov's modified pcap: +ifindex, protocol, pkt_type, pad
    0x34CDB2A1: (True, False, 24),
}

STATUS_BUDGET, STATUS_NEED_DATA, STATUS_BAD_LENGTH = 0, 1, 2


def is_pcap_magic(head: bytes) -> bool:
    return len(head) >= 4 and struct.unpack("<I", head[:4])[0] in _MAGICS


@dataclass(frozen=True, slots=True)
class PcapHeader:
    """What the global header says; `max_caplen` is the bound above which a record length is impossible."""

    swapped: bool
    nsec: bool
    record_header_len: int
    snaplen: int
    linktype: int
    version: tuple[int, int]

    @property
    def max_caplen(self) -> int:
        return min(max(self.snaplen, MIN_MAX_CAPLEN), MAX_RECORD)


def parse_global_header(head: bytes, name: str) -> PcapHeader:
    """Parse the 24-byte global header or raise CaptureFormatError saying what is wrong."""
    if len(head) < GLOBAL_HEADER_LEN:
        raise CaptureFormatError(
            f"{name}: pcap global header cut short ({len(head)} of {GLOBAL_HEADER_LEN} bytes)"
        )
    swapped, nsec, rlen = _MAGICS[struct.unpack("<I", head[:4])[0]]
    e = ">" if swapped else "<"
    major, minor, _zone, _sigfigs, snaplen, network = struct.unpack(e + "HHiIII", head[4:24])
    if major != 2:
        raise CaptureFormatError(f"{name}: unsupported pcap version {major}.{minor} (expected 2.x)")
    # The upper 16 bits of `network` may carry FCS information (pcap-savefile(5)); the link type is below.
    return PcapHeader(swapped, nsec, rlen, snaplen, network & 0xFFFF, (major, minor))


@kernel
def _subsecond_ns(frac: int, frac_ns: int) -> int:
    """The record's sub-second field in ns, as Wireshark's wiretap reads it: times its unit in 32 bits, as a
    signed number. Equal to frac * frac_ns for every valid field (< 1 s); an out-of-range one (a damaged or
    crafted record) then gives tshark's and capinfos' time, not a time seconds or hours away."""
    v = (frac * frac_ns) & 0xFFFFFFFF
    return v - 0x1_0000_0000 if v >= 0x8000_0000 else v


@kernel
def walk_pcap(
    buf: npt.NDArray[np.uint8],
    pos: int,
    end: int,
    budget_end: int,
    swapped: bool,
    frac_ns: int,
    hdr_len: int,
    max_caplen: int,
    off: npt.NDArray[np.int64],
    cap: npt.NDArray[np.uint32],
    wire: npt.NDArray[np.uint32],
    ts: npt.NDArray[np.int64],
) -> tuple[int, int, int]:
    """Index records in buf[pos:end] until `budget_end` is passed; returns (records, next pos, status)."""
    n = 0
    room = off.shape[0]
    while pos < budget_end and n < room:
        if end - pos < hdr_len:
            return n, pos, STATUS_NEED_DATA
        incl = u32(buf, pos + 8, swapped)
        if incl > max_caplen:
            return n, pos, STATUS_BAD_LENGTH
        if end - pos - hdr_len < incl:
            return n, pos, STATUS_NEED_DATA
        off[n] = pos + hdr_len
        cap[n] = incl
        wire[n] = u32(buf, pos + 12, swapped)
        ts[n] = u32(buf, pos, swapped) * 1_000_000_000 + _subsecond_ns(u32(buf, pos + 4, swapped), frac_ns)
        n += 1
        pos += hdr_len + incl
    return n, pos, STATUS_BUDGET


class PcapWalker:
    """Indexes chunks of a classic pcap stream (everything after the global header)."""

    format = "pcap"
    min_record = 16

    def __init__(self, header: PcapHeader) -> None:
        self.h = header
        self.link_types = [header.linktype]
        self.snaplen: int | None = header.snaplen or None

    def walk(
        self, buf: npt.NDArray[np.uint8], pos: int, budget_end: int, out: WalkOut
    ) -> tuple[int, str | None]:
        """Fill `out` from buf[pos:]; returns (next pos, None | "need" | damage reason)."""
        h = self.h
        n, new_pos, status = walk_pcap(
            buf,
            pos,
            len(buf),
            budget_end,
            h.swapped,
            1 if h.nsec else 1000,
            h.record_header_len,
            h.max_caplen,
            out.off,
            out.cap,
            out.wire,
            out.ts,
        )
        out.lt[:n] = h.linktype
        out.n = n
        if status == STATUS_BUDGET:
            return new_pos, None
        if status == STATUS_NEED_DATA:
            return new_pos, "need"
        incl = int(u32(buf, new_pos + 8, h.swapped))
        return new_pos, f"record length {incl} exceeds {h.max_caplen} (impossible; snaplen is {h.snaplen})"

    def cut_reason(self, buf: npt.NDArray[np.uint8], pos: int) -> str:
        """Why the bytes left at the end of the stream are not a whole record."""
        left = len(buf) - pos
        hl = self.h.record_header_len
        if left < hl:
            return f"file cut short inside a record header ({left} of {hl} bytes)"
        incl = int(u32(buf, pos + 8, self.h.swapped))
        return f"file cut short inside record data ({left - hl} of {incl} bytes)"
