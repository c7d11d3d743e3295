"""IP fragmentation: fragments, datagrams, and which datagrams could not be reassembled."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.analyzers.common import format_addr
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.packets import FRAG_IS_FRAGMENT, FRAG_MORE, L3
from pcap_analyzer.report.model import Fragmentation

_IPV4_HDR = 20  # fragment data = total length - header; IPv4 options are rare in fragments
_IPV6_HDR_FRAG = 48  # fixed header + fragment header; other extension headers before it are rare

Key = tuple[int, int, int, int, int, int, int]  # l3, src hi/lo, dst hi/lo, protocol, identification


class FragmentAnalyzer:
    """Groups fragments by (IP version, src, dst, protocol, id) and checks offset coverage.

    A datagram is reassembled when its fragments cover [0, end) without a hole and the last one
    (MF = 0) was seen; it is then dropped from memory. Open datagrams are capped at `max_open`
    (fragments of further datagrams are counted, not tracked). The fragment data length is
    taken from the IP length minus the base header (20 / 40 + 8 bytes), so options or extension
    headers before the fragment header can only hide a hole, never invent one.
    """

    def __init__(self, max_open: int = 100_000, max_examples: int = 20) -> None:
        self.max_open = max_open
        self.max_examples = max_examples
        self.fragments = 0
        self.datagrams = 0
        self.reassembled = 0
        self.untracked = 0
        self._open: dict[Key, list[tuple[int, int, bool, int]]] = {}  # (offset, length, more, frame)

    def update(self, batch: PacketBatch) -> None:
        """Add one chunk (a Python loop over fragment packets only, which are rare)."""
        p = batch.packets
        idx = np.flatnonzero(((p.frag & FRAG_IS_FRAGMENT) != 0) & ((p.l3 == L3.IPV4) | (p.l3 == L3.IPV6)))
        if idx.size == 0:
            return
        self.fragments += int(idx.size)
        hdr = np.where(p.l3[idx] == L3.IPV4, _IPV4_HDR, _IPV6_HDR_FRAG)
        length = np.maximum(p.ip_len[idx].astype(np.int64) - hdr, 0)
        cols = zip(
            p.l3[idx].tolist(),
            p.src_hi[idx].tolist(),
            p.src_lo[idx].tolist(),
            p.dst_hi[idx].tolist(),
            p.dst_lo[idx].tolist(),
            p.ip_proto[idx].tolist(),
            p.ip_id[idx].tolist(),
            p.frag_offset[idx].tolist(),
            length.tolist(),
            ((p.frag[idx] & FRAG_MORE) != 0).tolist(),
            p.frame[idx].tolist(),
            strict=True,
        )
        for l3, sh, sl, dh, dl, proto, ident, off, ln, more, frame in cols:
            key = (l3, sh, sl, dh, dl, proto, ident)
            frags = self._open.get(key)
            if frags is None:
                if len(self._open) >= self.max_open:
                    self.untracked += 1
                    continue
                self.datagrams += 1
                frags = self._open[key] = []
            frags.append((off, ln, more, frame))
            if _complete(frags):
                self.reassembled += 1
                del self._open[key]

    def finalize(self) -> Fragmentation:
        """Totals and a few described incomplete datagrams."""
        examples = [_describe(k, v) for k, v in list(self._open.items())[: self.max_examples]]
        return Fragmentation(
            fragments=self.fragments,
            datagrams=self.datagrams,
            reassembled=self.reassembled,
            incomplete=len(self._open),
            incomplete_examples=examples,
        )

    def limits(self) -> dict[str, int]:
        """Caps applied."""
        return {
            "fragment_datagrams_open": self.max_open,
            "fragment_examples": self.max_examples,
            "fragments_untracked": self.untracked,
        }


def _complete(frags: list[tuple[int, int, bool, int]]) -> bool:
    last = [off + ln for off, ln, more, _ in frags if not more]
    if not last:
        return False
    end = max(last)
    covered = 0
    for off, ln, _, _ in sorted(frags):
        if off > covered:
            return False
        covered = max(covered, off + ln)
    return covered >= end


def _describe(key: Key, frags: list[tuple[int, int, bool, int]]) -> str:
    l3, sh, sl, dh, dl, proto, ident = key
    have_last = any(not more for _, _, more, _ in frags)
    frames = ", ".join(str(f[3]) for f in sorted(frags, key=lambda f: f[3])[:5])
    why = (
        "no first fragment"
        if min(f[0] for f in frags) > 0
        else ("no last fragment" if not have_last else "missing middle fragment")
    )
    ver = "IPv4" if l3 == L3.IPV4 else "IPv6"
    return (
        f"{ver} {format_addr(sh, sl)} -> {format_addr(dh, dl)} proto {proto} id {ident:#x}: "
        f"{len(frags)} fragment(s), {why} (frames {frames})"
    )
