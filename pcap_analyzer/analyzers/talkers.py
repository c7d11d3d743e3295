"""Top talkers (by source address) and conversations (by unordered address pair), as tshark counts them."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers.common import NON_IP, NS, format_addr, ip_mask
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.flows.model import FlowTable
from pcap_analyzer.report.model import Conversation, Talker

_NONIP = np.uint64(0xFFFF_FFFF_FFFF_FFFF)  # sentinel address for packets without an IP header
_I64_MAX = np.iinfo(np.int64).max


class TalkersAnalyzer:
    """Counts frame.len bytes and frames per directed (src, dst) address pair, with bounded state.

    Packets of flow-tracked conversations are not counted here: the FlowTracker's table already holds
    each conversation's addresses, packets and bytes per direction and its first and last times, so
    `finalize` reads them from it and no per-conversation state is kept twice. Only the few other IP
    packets (no conversation) and non-IP frames are summed here, per address pair.
    """

    def __init__(self, top_n: int = 20) -> None:
        self.top_n = top_n
        self._other: dict[tuple[int, int, int, int], list[int]] = {}

    def update(self, batch: PacketBatch) -> None:
        """Add one chunk's packets that belong to no conversation."""
        p, f = batch.packets, batch.flows
        rest = np.flatnonzero(f.conv < 0)  # a conversation implies an IP header
        if rest.size == 0:
            return
        ip = ip_mask(p.l3[rest])
        sh, sl, dh, dl = (np.where(ip, c[rest], _NONIP) for c in (p.src_hi, p.src_lo, p.dst_hi, p.dst_lo))
        self._add_untracked(sh, sl, dh, dl, p.wirelen[rest].astype(np.int64), p.ts_ns[rest])

    def _add_untracked(
        self,
        sh: npt.NDArray[np.uint64],
        sl: npt.NDArray[np.uint64],
        dh: npt.NDArray[np.uint64],
        dl: npt.NDArray[np.uint64],
        wl: npt.NDArray[np.int64],
        ts: npt.NDArray[np.int64],
    ) -> None:
        rows = np.stack([sh, sl, dh, dl], axis=1)
        uniq, inv = np.unique(rows, axis=0, return_inverse=True)
        inv = inv.ravel()
        pk = np.bincount(inv)
        by = np.bincount(inv, weights=wl).astype(np.int64)
        lo = np.full(len(uniq), _I64_MAX, np.int64)
        hi = np.full(len(uniq), -1, np.int64)
        np.minimum.at(lo, inv, ts)
        np.maximum.at(hi, inv, ts)
        for i, r in enumerate(uniq.tolist()):
            e = self._other.setdefault(tuple(r), [0, 0, int(_I64_MAX), -1])
            e[0] += int(pk[i])
            e[1] += int(by[i])
            e[2] = min(e[2], int(lo[i]))
            e[3] = max(e[3], int(hi[i]))

    def _directed(
        self, flows: FlowTable | None
    ) -> tuple[list[npt.NDArray[np.uint64]], list[npt.NDArray[np.int64]]]:
        """Directed entries as columns: [src_hi, src_lo, dst_hi, dst_lo], [packets, bytes, first, last].

        A conversation gives an A->B entry and, when B sent anything, a B->A entry. Every conversation's
        first packet goes A->B, so the B->A entry's first time is left at the maximum: it never decides
        which side of an address pair spoke first, and the pair's start still comes from its A->B entry.
        """
        acols: list[npt.NDArray[np.uint64]] = [np.zeros(0, np.uint64)] * 4
        vcols: list[npt.NDArray[np.int64]] = [np.zeros(0, np.int64)] * 4
        if flows is not None and len(flows):
            ab, ba = np.flatnonzero(flows.packets_ab > 0), np.flatnonzero(flows.packets_ba > 0)
            a, b = (flows.a_hi, flows.a_lo), (flows.b_hi, flows.b_lo)
            acols = [np.concatenate([x[ab], y[ba]]) for x, y in zip(a + b, b + a, strict=True)]
            vcols = [
                np.concatenate([flows.packets_ab[ab], flows.packets_ba[ba]]),
                np.concatenate([flows.bytes_ab[ab], flows.bytes_ba[ba]]),
                np.concatenate([flows.first_ts_ns[ab], np.full(ba.size, _I64_MAX, np.int64)]),
                np.concatenate([flows.last_ts_ns[ab], flows.last_ts_ns[ba]]),
            ]
        if self._other:
            oa = np.array(list(self._other.keys()), np.uint64).reshape(-1, 4)
            ov = np.array(list(self._other.values()), np.int64).reshape(-1, 4)
            acols = [np.concatenate([c, oa[:, j]]) for j, c in enumerate(acols)]
            vcols = [np.concatenate([c, ov[:, j]]) for j, c in enumerate(vcols)]
        return acols, vcols

    def finalize(self, flows: FlowTable | None = None) -> tuple[list[Talker], list[Conversation]]:
        """Top talkers by bytes sent and top conversations by bytes (ties by address text).

        `flows` is the FlowTracker's table of the same packets (None when no packet was tracked)."""
        addr, vals = self._directed(flows)
        if addr[0].shape[0] == 0:
            return [], []
        return self._talkers(addr, vals), self._conversations(addr, vals)

    def _talkers(self, addr: list[npt.NDArray[np.uint64]], vals: list[npt.NDArray[np.int64]]) -> list[Talker]:
        hi, lo = np.concatenate([addr[0], addr[2]]), np.concatenate([addr[1], addr[3]])
        inv, rep = _group([hi, lo])
        m = addr[0].shape[0]
        sent, recv = inv[:m], inv[m:]
        k = rep.size
        tx_b = np.bincount(sent, weights=vals[1], minlength=k)
        tx_p = np.bincount(sent, weights=vals[0], minlength=k)
        rx_b = np.bincount(recv, weights=vals[1], minlength=k)
        rx_p = np.bincount(recv, weights=vals[0], minlength=k)
        cand = _top_candidates(tx_b, tx_p > 0, self.top_n)
        rows = zip(cand.tolist(), hi[rep[cand]].tolist(), lo[rep[cand]].tolist(), strict=True)
        names = {i: _name(h, x) for i, h, x in rows}
        order = sorted(names, key=lambda i: (-tx_b[i], names[i]))
        return [
            Talker(
                address=names[i],
                bytes=int(tx_b[i]),
                packets=int(tx_p[i]),
                bytes_received=int(rx_b[i]),
                packets_received=int(rx_p[i]),
            )
            for i in order[: self.top_n]
        ]

    def _conversations(
        self, addr: list[npt.NDArray[np.uint64]], vals: list[npt.NDArray[np.int64]]
    ) -> list[Conversation]:
        sh, sl, dh, dl = addr
        swap = (sh > dh) | ((sh == dh) & (sl > dl))
        pair = [np.where(swap, d, s) for d, s in ((dh, sh), (dl, sl))]
        pair += [np.where(swap, s, d) for d, s in ((dh, sh), (dl, sl))]
        inv, rep = _group(pair)
        k = rep.size
        pk = np.bincount(inv, weights=vals[0], minlength=k)
        by = np.bincount(inv, weights=vals[1], minlength=k)
        lo_to_hi = np.bincount(inv, weights=np.where(swap, 0, vals[1]), minlength=k)
        first = np.full(k, _I64_MAX, np.int64)
        last = np.full(k, -1, np.int64)
        np.minimum.at(first, inv, vals[2])
        np.maximum.at(last, inv, vals[3])
        # A is the sender of the pair's first packet (as tshark -z conv,ip)
        by_time = np.argsort(vals[2], kind="stable")
        u, at = np.unique(inv[by_time], return_index=True)
        first_row = np.zeros(k, np.int64)
        first_row[u] = by_time[at]
        cand = _top_candidates(by, np.ones(k, np.bool_), self.top_n)
        cols = [c[rep[cand]].tolist() for c in pair]
        names = {
            i: (_name(a, b), _name(c, d)) for i, a, b, c, d in zip(cand.tolist(), *cols, strict=True)
        }
        order = sorted(names, key=lambda i: (-by[i], " <-> ".join(names[i])))[: self.top_n]
        out = []
        for i in order:
            a, b = names[i]
            ab, ba = int(lo_to_hi[i]), int(by[i] - lo_to_hi[i])
            if swap[first_row[i]]:
                a, b, ab, ba = b, a, ba, ab
            dur = (float(last[i]) - float(first[i])) / NS  # float: damaged stamps overflow int64
            out.append(
                Conversation(
                    a=a,
                    b=b,
                    packets=int(pk[i]),
                    bytes=int(by[i]),
                    bytes_ab=ab,
                    bytes_ba=ba,
                    first_ts=float(first[i]) / NS,
                    duration_s=dur,
                    throughput_bps=int(by[i]) * 8 / dur if dur > 0 else 0.0,
                )
            )
        return out

    def limits(self) -> dict[str, int]:
        """Caps applied to the result lists."""
        return {"top_talkers": self.top_n, "conversations": self.top_n}


def _top_candidates(
    value: npt.NDArray[np.float64], ok: npt.NDArray[np.bool_], n: int
) -> npt.NDArray[np.int64]:
    """Indices (where `ok`) that can be among the `n` largest `value`s once ties are broken by name:
    all values >= the n-th largest, so names are built for these few rows only."""
    idx = np.flatnonzero(ok)
    if idx.size > n > 0:
        kth = np.partition(value[idx], idx.size - n)[idx.size - n]
        idx = idx[value[idx] >= kth]
    return idx


def _group(cols: list[npt.NDArray[np.uint64]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(group id of each row, one row index per group) for the distinct rows of `cols`.

    Works column by column (unlike np.unique(axis=0), which copies whole rows several times).
    """
    order = np.lexsort(cols[::-1])
    new = np.zeros(order.size, np.bool_)
    new[:1] = True
    for c in cols:
        sc = c[order]
        new[1:] |= sc[1:] != sc[:-1]
        del sc
    inv = np.empty(order.size, np.int64)
    inv[order] = np.cumsum(new) - 1
    return inv, order[new]


def _name(hi: int, lo: int) -> str:
    return NON_IP if hi == int(_NONIP) and lo == int(_NONIP) else format_addr(hi, lo)
