"""pcapng: a Numba block walk for packet blocks (EPB, SPB, OPB); SHB and IDB are parsed in Python.

Each section (SHB) sets the byte order and resets the interface list. IDB options used: if_tsresol
(code 9; power of 10 or, with the high bit, power of 2) and if_tsoffset (code 14, seconds).
A Simple Packet Block has no timestamp: it gets the previous packet's timestamp (0 if it is the first).
Damage stops the walk (no resynchronisation, as tshark, so counts stay comparable with it): what
precedes it is kept and the reason is reported. A record longer than max(262144, largest IDB snaplen),
capped at 16 MiB, is impossible.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.capture.walk import WalkOut, u16, u32
from pcap_analyzer.jit import kernel

SHB_TYPE = 0x0A0D0D0A
IDB_TYPE, OPB_TYPE, SPB_TYPE, EPB_TYPE = 1, 2, 3, 6
MAX_BLOCK = (1 << 24) + 4096  # a bigger block length is damage, not data
MAX_RECORD = 1 << 24
MIN_MAX_CAPLEN = 262144

OK, NEED, BAD_LEN, CONTROL, TRAILER, IFACE, CAP_BLOCK, CAP_MAX, NO_IFACE, SHORT = range(10)


def is_pcapng_magic(head: bytes) -> bool:
    return head[:4] == b"\x0a\x0d\x0d\x0a"


@kernel
def ticks_to_ns(t: int, units: int, offset_s: int) -> int:
    """Interface timestamp units -> epoch ns (floor), without int64 overflow for 2^-n resolutions."""
    if units == 1_000_000_000:
        ns = t
    elif 1_000_000_000 % units == 0:
        ns = t * (1_000_000_000 // units)
    else:
        sec = t // units
        rem = t - sec * units
        if units <= 8_000_000_000:
            ns = sec * 1_000_000_000 + rem * 1_000_000_000 // units
        else:
            ns = sec * 1_000_000_000 + int(rem * (1e9 / units))
    return ns + offset_s * 1_000_000_000


@kernel
def walk_pcapng(
    buf: npt.NDArray[np.uint8],
    pos: int,
    end: int,
    budget_end: int,
    swapped: bool,
    if_link: npt.NDArray[np.int64],
    if_units: npt.NDArray[np.int64],
    if_off: npt.NDArray[np.int64],
    if_snap: npt.NDArray[np.int64],
    max_caplen: int,
    last_ts: npt.NDArray[np.int64],
    off: npt.NDArray[np.int64],
    cap: npt.NDArray[np.uint32],
    wire: npt.NDArray[np.uint32],
    ts: npt.NDArray[np.int64],
    lt: npt.NDArray[np.uint16],
    n: int,
) -> tuple[int, int, int]:
    """Index packet blocks from buf[pos:end], appending at `n`; returns (records, pos, status)."""
    room = off.shape[0]
    n_if = if_link.shape[0]
    while pos < budget_end and n < room:
        if end - pos < 8:
            return n, pos, NEED
        btype = u32(buf, pos, swapped)
        if btype == SHB_TYPE:
            return n, pos, CONTROL
        blen = u32(buf, pos + 4, swapped)
        if blen < 12 or blen % 4 != 0 or blen > MAX_BLOCK:
            return n, pos, BAD_LEN
        if end - pos < blen:
            return n, pos, NEED
        if u32(buf, pos + blen - 4, swapped) != blen:
            return n, pos, TRAILER
        if btype == IDB_TYPE:
            return n, pos, CONTROL
        if btype == EPB_TYPE or btype == OPB_TYPE:
            if blen < 32:
                return n, pos, SHORT
            iface = u32(buf, pos + 8, swapped) if btype == EPB_TYPE else u16(buf, pos + 8, swapped)
            if iface >= n_if:
                return n, pos, IFACE
            c = u32(buf, pos + 20, swapped)
            if c > max_caplen:
                return n, pos, CAP_MAX
            if 28 + c > blen - 4:
                return n, pos, CAP_BLOCK
            t = (u32(buf, pos + 12, swapped) << 32) | u32(buf, pos + 16, swapped)
            off[n] = pos + 28
            cap[n] = c
            wire[n] = u32(buf, pos + 24, swapped)
            t_ns = ticks_to_ns(t, if_units[iface], if_off[iface])
            ts[n] = t_ns
            last_ts[0] = t_ns
            lt[n] = if_link[iface]
            n += 1
        elif btype == SPB_TYPE:
            if blen < 16:
                return n, pos, SHORT
            if n_if == 0:
                return n, pos, NO_IFACE
            o = u32(buf, pos + 8, swapped)
            c = min(o, blen - 16)
            if if_snap[0] > 0 and c > if_snap[0]:
                c = if_snap[0]
            if c > max_caplen:
                return n, pos, CAP_MAX
            off[n] = pos + 12
            cap[n] = c
            wire[n] = o
            ts[n] = last_ts[0]
            lt[n] = if_link[0]
            n += 1
        pos += blen
    return n, pos, OK


class PcapngWalker:
    """Indexes chunks of a pcapng stream; keeps the current section's byte order and interfaces."""

    format = "pcapng"
    min_record = 16

    def __init__(self) -> None:
        self.swapped = False
        self._ifaces: list[tuple[int, int, int, int]] = []  # linktype, units/s, offset s, snaplen
        self._arrays = self._pack()
        self.link_types: list[int] = []
        self.snaplen: int | None = None
        self.max_caplen = MIN_MAX_CAPLEN
        self.last_ts = np.zeros(1, dtype=np.int64)

    def _pack(self) -> tuple[npt.NDArray[np.int64], ...]:
        cols = list(zip(*self._ifaces, strict=True)) or [(), (), (), ()]
        return tuple(np.array(c, dtype=np.int64) for c in cols)

    def walk(
        self, buf: npt.NDArray[np.uint8], pos: int, budget_end: int, out: WalkOut
    ) -> tuple[int, str | None]:
        """Fill `out` from buf[pos:]; returns (next pos, None | "need" | damage reason)."""
        out.n = 0
        while True:
            link, units, offs, snap = self._arrays
            n, pos, status = walk_pcapng(
                buf,
                pos,
                len(buf),
                budget_end,
                self.swapped,
                link,
                units,
                offs,
                snap,
                self.max_caplen,
                self.last_ts,
                out.off,
                out.cap,
                out.wire,
                out.ts,
                out.lt,
                out.n,
            )
            out.n = n
            if status == OK:
                return pos, None
            if status == NEED:
                return pos, "need"
            if status != CONTROL:
                return pos, self._reason(status, buf, pos)
            result = self.control_block(buf, pos)
            if isinstance(result, str):
                return pos, result
            pos = result

    def control_block(self, buf: npt.NDArray[np.uint8], pos: int) -> int | str:
        """Parse the SHB or IDB at `pos`: returns the next position, "need", or a damage reason."""
        end = len(buf)
        if end - pos < 12:
            return "need"
        if u32(buf, pos, False) == SHB_TYPE:
            bom = bytes(buf[pos + 8 : pos + 12])
            if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                return f"section header block with bad byte-order magic {bom!r}"
            sw = bom == b"\x1a\x2b\x3c\x4d"
            blen = int(u32(buf, pos + 4, sw))
            if blen < 28 or blen % 4 or blen > MAX_BLOCK:
                return f"section header block length {blen} is impossible"
            if end - pos < blen:
                return "need"
            if int(u32(buf, pos + blen - 4, sw)) != blen:
                return f"section header block length {blen} does not match its trailing copy"
            major = int(u16(buf, pos + 12, sw))
            if major != 1:
                return f"unsupported pcapng version {major}.{int(u16(buf, pos + 14, sw))}"
            self.swapped = sw
            self._ifaces = []
            self._arrays = self._pack()
            return pos + blen
        return self._idb(buf, pos)

    def leading_idbs(self, buf: npt.NDArray[np.uint8], pos: int) -> int:
        """Parse the well-formed IDBs right after a section header (so link types are known at open)."""
        sw = self.swapped
        while len(buf) - pos >= 20 and u32(buf, pos, sw) == IDB_TYPE:
            blen = int(u32(buf, pos + 4, sw))
            if blen < 20 or blen % 4 or len(buf) - pos < blen or int(u32(buf, pos + blen - 4, sw)) != blen:
                break
            nxt = self._idb(buf, pos)
            if isinstance(nxt, str):
                break
            pos = nxt
        return pos

    def _idb(self, buf: npt.NDArray[np.uint8], pos: int) -> int | str:
        sw = self.swapped
        blen = int(u32(buf, pos + 4, sw))
        if blen < 20:
            return f"interface description block too short ({blen} bytes)"
        linktype, snaplen = int(u16(buf, pos + 8, sw)), int(u32(buf, pos + 12, sw))
        units, offset = 1_000_000, 0
        i, stop = pos + 16, pos + blen - 4
        while i + 4 <= stop:
            code, olen = int(u16(buf, i, sw)), int(u16(buf, i + 2, sw))
            if code == 0 or i + 4 + olen > stop:
                break
            if code == 9 and olen >= 1:
                r = int(buf[i + 4])
                exp = r & 0x7F
                if (r & 0x80 and exp > 62) or (not r & 0x80 and exp > 18):
                    return f"interface if_tsresol {r:#x} is not supported"
                units = 1 << exp if r & 0x80 else 10**exp
            elif code == 14 and olen >= 8:
                v = int(u32(buf, i + 4, sw)), int(u32(buf, i + 8, sw))
                raw = (v[0] << 32 | v[1]) if sw else (v[1] << 32 | v[0])
                offset = raw - (1 << 64) if raw >= 1 << 63 else raw
            i += 4 + olen + (-olen % 4)
        self._ifaces.append((linktype, units, offset, snaplen))
        self._arrays = self._pack()
        if linktype not in self.link_types:
            self.link_types = sorted({*self.link_types, linktype})
        if snaplen:
            self.snaplen = max(self.snaplen or 0, snaplen)
            self.max_caplen = min(max(MIN_MAX_CAPLEN, self.snaplen), MAX_RECORD)
        return pos + blen

    def _reason(self, status: int, buf: npt.NDArray[np.uint8], pos: int) -> str:
        sw = self.swapped
        btype, blen = int(u32(buf, pos, sw)), int(u32(buf, pos + 4, sw))
        what = f"block type {btype:#x}"
        if status == BAD_LEN:
            return f"{what}: total length {blen} is impossible (multiple of 4, 12..{MAX_BLOCK} expected)"
        if status == TRAILER:
            trail = int(u32(buf, pos + blen - 4, sw))
            return f"{what}: total length {blen} does not match its trailing copy {trail}"
        if status == IFACE:
            return f"{what}: packet names an undeclared interface ({len(self._ifaces)} declared)"
        if status == NO_IFACE:
            return f"{what}: simple packet block in a section without an interface"
        if status == SHORT:
            return f"{what}: block of {blen} bytes is too short for its fields"
        c = int(u32(buf, pos + (8 if btype == SPB_TYPE else 20), sw))
        if status == CAP_MAX:
            return f"{what}: record length {c} exceeds {self.max_caplen} (impossible)"
        return f"{what}: captured length {c} does not fit in its {blen}-byte block"

    def cut_reason(self, buf: npt.NDArray[np.uint8], pos: int) -> str:
        """Why the bytes left at the end of the stream are not a whole block."""
        left = len(buf) - pos
        if left < 8:
            return f"file cut short inside a block header ({left} of 8 bytes)"
        blen = int(u32(buf, pos + 4, self.swapped))
        btype = int(u32(buf, pos, self.swapped))
        return f"file cut short inside a block of type {btype:#x} ({left} of {blen} bytes)"
