"""Captures whose content is known by construction, written with the standard library only."""

from __future__ import annotations

import struct
from pathlib import Path


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frame(
    src: int, dst: int, sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes
) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src.to_bytes(4), dst.to_bytes(4)
    )
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + tcp


def write_tcp_capture(path: Path, packets: int, *, flows: int = 50) -> Path:
    """A classic pcap of `packets` TCP data segments (ACK|PSH, 100-byte payloads) over `flows` connections,
    one every 100 microseconds: exactly `packets` records, all TCP."""
    client, server = 0x0A000001, 0x0A000002
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    seqs = [1000] * flows
    payload = b"x" * 100
    ts_us = 1_700_000_000 * 1_000_000
    for i in range(packets):
        f = i % flows
        frame = _frame(client, server, 40000 + f, 443, seqs[f], 1, 0x18, payload)
        seqs[f] += len(payload)
        sec, usec = divmod(ts_us + i * 100, 1_000_000)
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
        out.append(frame)
    path.write_bytes(b"".join(out))
    return path
