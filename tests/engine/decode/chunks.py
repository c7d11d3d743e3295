"""Build RecordChunks straight from packet bytes (scapy packets or raw bytes) for decoder tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pcap_analyzer.capture.chunk import RecordChunk
from pcap_analyzer.decode import decode_chunk
from pcap_analyzer.decode.packets import PacketTable


def chunk_of(
    pkts: Sequence[Any], linktype: int = 1, caplens: Sequence[int] | None = None, first_index: int = 0
) -> RecordChunk:
    """A chunk of `pkts`; `caplens` cuts packets (wirelen stays the full length)."""
    datas = [bytes(p) for p in pkts]
    caps = [
        len(d) if caplens is None else min(c, len(d))
        for d, c in zip(datas, caplens or [0] * len(datas), strict=True)
    ]
    buf = np.frombuffer(b"".join(d[:c] for d, c in zip(datas, caps, strict=True)) or b"\0", np.uint8)
    offsets = np.concatenate([[0], np.cumsum(caps)[:-1]]).astype(np.int64) if caps else np.zeros(0, np.int64)
    n = len(datas)
    return RecordChunk(
        buf=buf,
        data_offset=offsets,
        caplen=np.array(caps, np.uint32),
        wirelen=np.array([len(d) for d in datas], np.uint32),
        ts_ns=np.arange(n, dtype=np.int64) * 1_000_000,
        linktype=np.full(n, linktype, np.uint16),
        first_index=first_index,
        stream_start=0,
        stream_end=len(buf),
    )


def decode(pkts: Sequence[Any], linktype: int = 1, caplens: Sequence[int] | None = None) -> PacketTable:
    """decode_chunk over `chunk_of(...)`."""
    return decode_chunk(chunk_of(pkts, linktype, caplens))


def v4(addr: str) -> int:
    """IPv4-mapped low half of an IPv4 address, as PacketTable stores it."""
    a, b, c, d = (int(x) for x in addr.split("."))
    return 0x0000_FFFF_0000_0000 | (a << 24) | (b << 16) | (c << 8) | d


def v6(addr: str) -> tuple[int, int]:
    """(hi, lo) halves of an IPv6 address."""
    import ipaddress

    v = int(ipaddress.IPv6Address(addr))
    return v >> 64, v & 0xFFFF_FFFF_FFFF_FFFF
