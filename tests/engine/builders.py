"""Capture writers for tests: pcap / pcapng / compressed files whose records are known by construction.

Packet bytes come from scapy (`bytes(Ether()/IP()/TCP())`) or raw bytes; this module only writes files.
"""

from __future__ import annotations

import gzip
import shutil
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAP_MAGIC_KUZNETZOV = 0xA1B2CD34

SHB = 0x0A0D0D0A
IDB = 0x00000001
OPB = 0x00000002
SPB = 0x00000003
EPB = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D


@dataclass
class Rec:
    """One record: timestamp (epoch ns), captured bytes, original length, pcapng interface index."""

    ts_ns: int
    data: bytes
    wirelen: int | None = None
    iface: int = 0

    @property
    def origlen(self) -> int:
        return len(self.data) if self.wirelen is None else self.wirelen


@dataclass
class Iface:
    """One pcapng interface: link type, if_tsresol (6 = us, 9 = ns, 0x80|n = 2^-n), if_tsoffset (s)."""

    linktype: int = 1
    tsresol: int = 6
    tsoffset: int = 0
    snaplen: int = 0

    def units_per_second(self) -> int:
        return 1 << (self.tsresol & 0x7F) if self.tsresol & 0x80 else 10**self.tsresol

    def ticks(self, ts_ns: int) -> int:
        """Timestamp in this interface's units, relative to tsoffset (exact when representable)."""
        rel = ts_ns - self.tsoffset * 1_000_000_000
        return rel * self.units_per_second() // 1_000_000_000

    def ts_ns(self, ticks: int) -> int:
        """What a reader should compute back from `ticks` (floor to the nanosecond)."""
        return self.tsoffset * 1_000_000_000 + ticks * 1_000_000_000 // self.units_per_second()


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def write_pcap(
    path: str | Path,
    recs: Iterable[Rec],
    *,
    linktype: int = 1,
    nsec: bool = False,
    big_endian: bool = False,
    snaplen: int = 262144,
    kuznetzov: bool = False,
) -> Path:
    """Write a classic pcap (micro- or nanosecond, either byte order; `kuznetzov` = modified pcap)."""
    e = ">" if big_endian else "<"
    magic = PCAP_MAGIC_KUZNETZOV if kuznetzov else (PCAP_MAGIC_NS if nsec else PCAP_MAGIC_US)
    div = 1 if nsec else 1000
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for r in recs:
        sec, frac = divmod(r.ts_ns, 1_000_000_000)
        out.append(struct.pack(e + "IIII", sec, frac // div, len(r.data), r.origlen))
        if kuznetzov:
            out.append(struct.pack(e + "iHBx", 0, 0, 0))  # ifindex, protocol, pkt_type, pad
        out.append(r.data)
    p = Path(path)
    p.write_bytes(b"".join(out))
    return p


def pcapng_block(btype: int, body: bytes, *, e: str = "<") -> bytes:
    """One pcapng block: type, total length, body (padded to 4), total length again."""
    body = _pad4(body)
    total = 12 + len(body)
    return struct.pack(e + "II", btype, total) + body + struct.pack(e + "I", total)


def _options(opts: Sequence[tuple[int, bytes]], e: str) -> bytes:
    if not opts:
        return b""
    out = b"".join(struct.pack(e + "HH", code, len(v)) + _pad4(v) for code, v in opts)
    return out + struct.pack(e + "HH", 0, 0)


def shb(e: str = "<") -> bytes:
    """Section header block (version 1.0, unknown section length)."""
    return pcapng_block(SHB, struct.pack(e + "IHHq", BYTE_ORDER_MAGIC, 1, 0, -1), e=e)


def idb(iface: Iface, e: str = "<") -> bytes:
    """Interface description block with if_tsresol (9) and if_tsoffset (14) when not default."""
    opts: list[tuple[int, bytes]] = []
    if iface.tsresol != 6:
        opts.append((9, bytes([iface.tsresol])))
    if iface.tsoffset:
        opts.append((14, struct.pack(e + "q", iface.tsoffset)))
    body = struct.pack(e + "HHI", iface.linktype, 0, iface.snaplen) + _options(opts, e)
    return pcapng_block(IDB, body, e=e)


def packet_block(r: Rec, interfaces: Sequence[Iface], block: str = "epb", e: str = "<") -> bytes:
    """EPB, SPB or OPB carrying record `r`."""
    if block == "spb":
        return pcapng_block(SPB, struct.pack(e + "I", r.origlen) + r.data, e=e)
    t = interfaces[r.iface].ticks(r.ts_ns)
    hi, lo = t >> 32, t & 0xFFFFFFFF
    if block == "epb":
        head = struct.pack(e + "IIIII", r.iface, hi, lo, len(r.data), r.origlen)
        return pcapng_block(EPB, head + _pad4(r.data), e=e)
    if block == "opb":
        head = struct.pack(e + "HHIIII", r.iface, 0, hi, lo, len(r.data), r.origlen)
        return pcapng_block(OPB, head + _pad4(r.data), e=e)
    raise ValueError(f"unknown block kind {block!r}")


def write_pcapng(
    path: str | Path,
    recs: Iterable[Rec],
    *,
    interfaces: Sequence[Iface] = (Iface(),),
    big_endian: bool = False,
    block: str = "epb",
    sections: int = 1,
    extra_blocks: Sequence[tuple[int, bytes]] = (),
) -> Path:
    """Write a pcapng file. `sections` > 1 splits the records over that many sections (SHB + IDBs each).

    `extra_blocks` (type, body) are written after the IDBs of every section (e.g. unknown block types).
    """
    e = ">" if big_endian else "<"
    rl = list(recs)
    per = -(-len(rl) // sections) if rl else 0
    out: list[bytes] = []
    for s in range(sections):
        out.append(shb(e))
        out.extend(idb(i, e) for i in interfaces)
        out.extend(pcapng_block(t, b, e=e) for t, b in extra_blocks)
        out.extend(packet_block(r, interfaces, block, e) for r in rl[s * per : (s + 1) * per])
    p = Path(path)
    p.write_bytes(b"".join(out))
    return p


def compress(path: str | Path, kind: str) -> Path:
    """Compress `path` into `path.gz` (kind "gzip") or `path.zst` (kind "zstd"); returns the new path."""
    src = Path(path)
    if kind == "gzip":
        dst = src.with_name(src.name + ".gz")
        with src.open("rb") as fi, gzip.open(dst, "wb") as fo:
            shutil.copyfileobj(fi, fo)
    elif kind == "zstd":
        import zstandard

        dst = src.with_name(src.name + ".zst")
        with src.open("rb") as fi, dst.open("wb") as fo:
            zstandard.ZstdCompressor().copy_stream(fi, fo)
    else:
        raise ValueError(f"unknown compression {kind!r}")
    return dst


def records_from_scapy(
    pkts: Iterable[Any], start_ns: int = 1_700_000_000_000_000_000, step_ns: int = 1_000_000
) -> list[Rec]:
    """Records from scapy packets (or raw bytes), evenly spaced `step_ns` apart from `start_ns`."""
    return [Rec(ts_ns=start_ns + i * step_ns, data=bytes(p)) for i, p in enumerate(pkts)]


# ---- damaged files ---------------------------------------------------------------------------


def truncate(path: str | Path, n: int, dst: str | Path | None = None) -> Path:
    """Copy of `path` (or `path` itself when `dst` is None) cut to its first `n` bytes."""
    src = Path(path)
    out = Path(dst) if dst is not None else src
    out.write_bytes(src.read_bytes()[:n])
    return out


def patch(path: str | Path, offset: int, data: bytes) -> Path:
    """Overwrite bytes at `offset` in place (e.g. an impossible record length)."""
    p = Path(path)
    b = bytearray(p.read_bytes())
    b[offset : offset + len(data)] = data
    p.write_bytes(bytes(b))
    return p


def pcap_record_offsets(recs: Sequence[Rec], *, kuznetzov: bool = False) -> list[int]:
    """Byte offset of each record header in a file written by `write_pcap` (then the file end)."""
    off, out = 24, []
    for r in recs:
        out.append(off)
        off += (24 if kuznetzov else 16) + len(r.data)
    out.append(off)
    return out


def write_pcap_bad_length(
    path: str | Path, recs: Sequence[Rec], bad_index: int, caplen: int = 0xFFFFFFFF, **kw: Any
) -> Path:
    """Write a pcap whose record `bad_index` claims an impossible captured length."""
    p = write_pcap(path, recs, **kw)
    e = ">" if kw.get("big_endian") else "<"
    off = pcap_record_offsets(recs)[bad_index]
    return patch(p, off + 8, struct.pack(e + "I", caplen))
