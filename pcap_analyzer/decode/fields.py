"""Header field tables (name, offset, size in wire order) and the big-endian readers the kernels use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pcap_analyzer.jit import kernel


@dataclass(frozen=True, slots=True)
class Field:
    """One header field: Wireshark-style name, byte offset from the header start, size in bytes."""

    name: str
    offset: int
    size: int


class Header:
    """A protocol header declared as its fields in wire order; offsets follow from the sizes.

    Example:
        >>> UDP = Header("udp", ("srcport", 2), ("dstport", 2), ("length", 2), ("checksum", 2))
        >>> UDP.offset("length"), UDP.size
        (4, 8)
    """

    def __init__(self, name: str, *spec: tuple[str, int]) -> None:
        self.name = name
        fields: list[Field] = []
        offset = 0
        for field_name, size in spec:
            fields.append(Field(field_name, offset, size))
            offset += size
        self.fields = tuple(fields)
        self.size = offset
        self._by_name = {f.name: f for f in fields}

    def offset(self, name: str) -> int:
        """Byte offset of field `name` from the start of the header."""
        return self._by_name[name].offset

    def __repr__(self) -> str:
        return f"Header({self.name!r}, {', '.join(f'{f.name}@{f.offset}:{f.size}' for f in self.fields)})"


@kernel
def be16(buf: np.ndarray, p: int) -> int:
    """Big-endian 16-bit value at `buf[p]`."""
    return (np.int64(buf[p]) << 8) | np.int64(buf[p + 1])


@kernel
def be32(buf: np.ndarray, p: int) -> int:
    """Big-endian 32-bit value at `buf[p]`."""
    return (be16(buf, p) << 16) | be16(buf, p + 2)


@kernel
def le32(buf: np.ndarray, p: int) -> int:
    """Little-endian 32-bit value at `buf[p]`."""
    return (
        (np.int64(buf[p + 3]) << 24)
        | (np.int64(buf[p + 2]) << 16)
        | (np.int64(buf[p + 1]) << 8)
        | np.int64(buf[p])
    )


@kernel
def be64u(buf: np.ndarray, p: int) -> np.uint64:
    """Big-endian 64-bit value at `buf[p]`, as uint64."""
    v = np.uint64(0)
    for k in range(8):
        v = (v << np.uint64(8)) | np.uint64(buf[p + k])
    return v
