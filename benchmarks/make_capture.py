"""Build big benchmark captures fast: replicate a classic pcap's records with NumPy (no per-packet Python).

Replica k shifts every timestamp by k x (span + 1 s) and rewrites the second and third octets of IPv4
addresses (Ethernet frames) to k, so every replica holds distinct flows and the whole file stays in time
order. IPv4 header checksums are not recomputed (tshark does not verify them by default).
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np

PCAP_HDR = 24
REC_HDR = 16


def _record_offsets(data: np.ndarray, little: bool) -> np.ndarray:
    offsets = []
    pos = PCAP_HDR
    fmt = "<I" if little else ">I"
    raw = data.tobytes()
    while pos + REC_HDR <= len(raw):
        caplen = struct.unpack_from(fmt, raw, pos + 8)[0]
        if pos + REC_HDR + caplen > len(raw):
            break
        offsets.append(pos)
        pos += REC_HDR + caplen
    return np.asarray(offsets, np.int64)


def replicate(template: Path, out: Path, min_packets: int = 0, min_bytes: int = 0) -> tuple[int, int]:
    """Write `out` with enough replicas of `template` for `min_packets` and `min_bytes`; returns both."""
    data = np.fromfile(template, np.uint8)
    magic = data[:4].tobytes()
    if magic not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        raise SystemExit(f"{template}: need a little-endian classic pcap")
    offs = _record_offsets(data, True)
    body = data[PCAP_HDR : int(offs[-1]) + REC_HDR + int(data[offs[-1] + 8 : offs[-1] + 12].view("<u4")[0])]
    rec = offs - PCAP_HDR  # record offsets inside `body`
    ts_sec = body[(rec[:, None] + np.arange(4)).ravel()].view("<u4")
    span = int(ts_sec.max()) - int(ts_sec.min()) + 1
    caplen = body[(rec[:, None] + 8 + np.arange(4)).ravel()].view("<u4")
    pkt = rec + REC_HDR
    ipv4 = (caplen >= 34) & (body[pkt + 12] == 0x08) & (body[pkt + 13] == 0x00)
    addr_bytes = np.concatenate([pkt[ipv4] + 27, pkt[ipv4] + 31])  # 2nd octet of src/dst
    ts_pos = (rec[:, None] + np.arange(4)).ravel()
    n, size = len(rec), len(body)
    copies = max(1, -(-min_packets // n), -(-min_bytes // size))
    with out.open("wb") as f:
        f.write(data[:PCAP_HDR].tobytes())
        for k in range(copies):
            b = body.copy()
            b[ts_pos] = (ts_sec + np.uint32(k * span)).view(np.uint8)
            b[addr_bytes] = np.uint8((k >> 8) & 0xFF) ^ body[addr_bytes]
            b[addr_bytes + 1] = np.uint8(k & 0xFF) ^ body[addr_bytes + 1]
            f.write(b.tobytes())
    return copies * n, PCAP_HDR + copies * size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("template", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--bytes", type=int, default=0)
    a = ap.parse_args()
    packets, size = replicate(a.template, a.out, a.packets, a.bytes)
    print(f"wrote {a.out}: {packets:,} packets, {size / 1e6:,.1f} MB")


if __name__ == "__main__":
    main()
