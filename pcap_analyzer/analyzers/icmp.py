"""ICMP and ICMPv6 diagnostics: messages by type and code, unreachables, PMTU signals, top peers.

Counts come from the decoder's `icmp_type` / `icmp_code` columns (the outer ICMP header of each frame: the
packet an ICMP error quotes is not counted again; in a tunnel, the innermost one). Packet bytes are read only
for fragmentation-needed and packet-too-big messages (the next-hop MTU and the quoted destination).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers.common import format_addr
from pcap_analyzer.analyzers.icmp_names import message_name
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.packets import PacketTable
from pcap_analyzer.report.model_icmp import IcmpPeer, IcmpSummary, PmtuReport

IPPROTO_ICMP, IPPROTO_ICMPV6 = 1, 58
# (is ICMPv6, type): error kinds
UNREACHABLE = ((False, 3), (True, 1))
TIME_EXCEEDED = ((False, 11), (True, 3))
REDIRECT = ((False, 5), (True, 137))
ERROR_TYPES = {(False, t) for t in (3, 4, 5, 11, 12)} | {(True, t) for t in (1, 2, 3, 4)}
FRAG_NEEDED = (False, 3, 4)
PACKET_TOO_BIG = (True, 2)
ICMP_HDR = 8


def _be(buf: npt.NDArray[np.uint8], at: int, n: int) -> int:
    return int.from_bytes(buf[at : at + n].tobytes(), "big")


class IcmpAnalyzer:
    """Counts ICMP messages per (family, type, code) and per address; describes PMTU messages."""

    def __init__(
        self, max_peers: int = 20, max_tracked: int = 100_000, max_pmtu: int = 50, max_frames: int = 20
    ) -> None:
        self.max_peers, self.max_tracked, self.max_pmtu, self.max_frames = (
            max_peers,
            max_tracked,
            max_pmtu,
            max_frames,
        )
        self.codes = np.zeros(2 * 256 * 256, np.int64)  # (v6, type, code)
        self.sources: Counter[tuple[int, int]] = Counter()
        self.dests: Counter[tuple[int, int]] = Counter()
        self.source_errors: Counter[tuple[int, int]] = Counter()
        self.dest_errors: Counter[tuple[int, int]] = Counter()
        self.untracked = 0
        self.pmtu: dict[tuple[str, str, int], list[int]] = {}  # (router, destination, mtu) -> [count, frame]
        self.mtus: set[int] = set()
        self.frames: dict[str, list[int]] = {}

    def update(self, batch: PacketBatch) -> None:
        p = batch.packets
        idx = np.flatnonzero((p.ip_proto == IPPROTO_ICMP) | (p.ip_proto == IPPROTO_ICMPV6))
        l4 = p.l4_offset[idx].astype(np.int64)
        idx = idx[(l4 > 0) & (p.caplen[idx].astype(np.int64) >= l4 + 2)]  # type and code captured
        if idx.size == 0:
            return
        v6 = (p.ip_proto[idx] == IPPROTO_ICMPV6).astype(np.int64)
        typ, code = p.icmp_type[idx].astype(np.int64), p.icmp_code[idx].astype(np.int64)
        np.add.at(self.codes, (v6 << 16) | (typ << 8) | code, 1)
        err = np.zeros(idx.size, np.bool_)
        for fam, t in ERROR_TYPES:
            err |= (v6 == fam) & (typ == t)
        self._peers(p.src_hi[idx], p.src_lo[idx], err, self.sources, self.source_errors)
        self._peers(p.dst_hi[idx], p.dst_lo[idx], err, self.dests, self.dest_errors)
        for kind, mask in (
            ("unreachable", _any(v6, typ, UNREACHABLE)),
            ("time_exceeded", _any(v6, typ, TIME_EXCEEDED)),
            ("redirect", _any(v6, typ, REDIRECT)),
        ):
            kept = self.frames.setdefault(kind, [])
            if len(kept) < self.max_frames and mask.any():
                kept.extend(p.frame[idx[mask]][: self.max_frames - len(kept)].tolist())
        pmtu = ((v6 == 0) & (typ == 3) & (code == 4)) | ((v6 == 1) & (typ == 2))
        for i in idx[pmtu].tolist():
            self._pmtu(p, i)

    def _peers(
        self,
        hi: npt.NDArray[np.uint64],
        lo: npt.NDArray[np.uint64],
        err: npt.NDArray[np.bool_],
        counts: Counter[tuple[int, int]],
        errors: Counter[tuple[int, int]],
    ) -> None:
        keys, inv = np.unique(np.stack([hi, lo], axis=1), axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        n = np.bincount(inv, minlength=len(keys))
        e = np.bincount(inv, weights=err, minlength=len(keys)).astype(np.int64)
        for (h, lo_), c, ec in zip(keys.tolist(), n.tolist(), e.tolist(), strict=True):
            key = (h, lo_)
            if key not in counts and len(counts) >= self.max_tracked:
                self.untracked += c
                continue
            counts[key] += c
            if ec:
                errors[key] += ec

    def _pmtu(self, p: PacketTable, i: int) -> None:
        """Next-hop MTU (ICMP bytes 6-7; ICMPv6 bytes 4-7) and the quoted packet's destination."""
        start = int(p.data_offset[i]) + int(p.l4_offset[i])
        end = int(p.data_offset[i]) + int(p.caplen[i])
        v6 = int(p.ip_proto[i]) == IPPROTO_ICMPV6
        if end < start + ICMP_HDR:
            return
        mtu = _be(p.buf, start + 4, 4) if v6 else _be(p.buf, start + 6, 2)
        self.mtus.add(mtu)
        inner = start + ICMP_HDR
        dst = ""
        if v6 and end >= inner + 40:
            dst = format_addr(_be(p.buf, inner + 24, 8), _be(p.buf, inner + 32, 8))
        elif not v6 and end >= inner + 20:
            dst = format_addr(0, 0xFFFF_0000_0000 | _be(p.buf, inner + 16, 4))
        key = (format_addr(p.src_hi[i], p.src_lo[i]), dst, mtu)
        entry = self.pmtu.get(key)
        if entry is not None:
            entry[0] += 1
        elif len(self.pmtu) < self.max_pmtu:
            self.pmtu[key] = [1, int(p.frame[i])]
        else:
            self.untracked += 1

    def finalize(self) -> IcmpSummary:
        nz = np.flatnonzero(self.codes)
        messages: dict[str, int] = {}
        for k in nz.tolist():
            name = message_name(bool(k >> 16), (k >> 8) & 0xFF, k & 0xFF)
            messages[name] = messages.get(name, 0) + int(self.codes[k])

        def count(v6: int, t: int, c: int | None = None) -> int:
            base = (v6 << 16) | (t << 8)
            return int(self.codes[base + c] if c is not None else self.codes[base : base + 256].sum())

        ptb = count(1, 2)
        return IcmpSummary(
            packets=int(self.codes.sum()),
            messages=dict(sorted(messages.items(), key=lambda kv: (-kv[1], kv[0]))),
            unreachable=count(0, 3) + count(1, 1),
            fragmentation_needed=count(0, 3, 4) + ptb,
            packet_too_big=ptb,
            time_exceeded=count(0, 11) + count(1, 3),
            redirects=count(0, 5) + count(1, 137),
            next_hop_mtus=sorted(self.mtus),
            sources=_top(self.sources, self.source_errors, self.max_peers),
            destinations=_top(self.dests, self.dest_errors, self.max_peers),
            pmtu=[
                PmtuReport(router=r, destination=d, mtu=m, messages=n, first_frame=f)
                for (r, d, m), (n, f) in sorted(self.pmtu.items(), key=lambda kv: kv[1][1])
            ],
            error_frames={k: v for k, v in self.frames.items() if v},
        )

    def limits(self) -> dict[str, int]:
        return {"icmp_peers": self.max_peers, "icmp_untracked": self.untracked}


def _any(
    v6: npt.NDArray[np.int64], typ: npt.NDArray[np.int64], kinds: tuple[tuple[bool, int], ...]
) -> npt.NDArray[np.bool_]:
    out = np.zeros(v6.size, np.bool_)
    for fam, t in kinds:
        out |= (v6 == fam) & (typ == t)
    return out


def _top(counts: Counter[tuple[int, int]], errors: Counter[tuple[int, int]], n: int) -> list[IcmpPeer]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [
        IcmpPeer(address=format_addr(h, lo), messages=c, errors=errors.get((h, lo), 0))
        for (h, lo), c in ranked
    ]
