"""DNS tunnelling: per (client, registered domain), how many queries carry long high-entropy names or ask
for TXT/NULL records, and how many distinct names were asked. Fed the query packets of each chunk."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers.dns_names import qname_at
from pcap_analyzer.decode.packets import PacketTable
from pcap_analyzer.report.model import SecurityFinding
from pcap_analyzer.security import dns_kernel as k
from pcap_analyzer.security.addresses import addr_text, ip_field
from pcap_analyzer.security.config import SecurityConfig
from pcap_analyzer.security.finding import Caps, duration_text, make_finding, quote

QTYPE_TXT, QTYPE_NULL = 16, 10  # RFC 1035 3.2.2
DNS_PORT = 53  # mDNS (5353) and LLMNR names are local service names, not tunnel candidates
UNIQUE_CAP = 4096  # distinct names remembered per group; past it the count is a lower bound
MAX_GROUPS = 100_000  # (client, domain) groups with suspicious queries kept; later ones are dropped
FRAMES_KEPT = 16  # frames of suspicious queries kept per group
_QR = 0x8000
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
_K3 = np.uint64(0x165667B19E3779F9)

_COLUMNS = (
    "queries",
    "suspicious",
    "txt_null",
    "unique",
    "sub_len_sum",
    "first_ts",
    "last_ts",
    "first_frame",
)


class DnsTunnelState:
    """Aggregates per (client, registered domain) group, in arrays grown as groups appear.

    A group starts at the first suspicious query of a (client, domain) pair, so ordinary names cost
    no memory; its counts run from there. `unique` counts the distinct names among its suspicious
    queries, up to UNIQUE_CAP remembered names per group; at most MAX_GROUPS groups are kept.
    """

    def __init__(self, cfg: SecurityConfig) -> None:
        self.cfg = cfg
        self._gid: dict[int, int] = {}
        self.n = 0
        self.dropped_groups = 0
        self.cols = {name: np.zeros(16, np.int64) for name in _COLUMNS}
        self.frames = np.zeros((16, FRAMES_KEPT), np.int64)
        self.client: list[tuple[int, int]] = []
        self.domain: list[str] = []
        self.example: list[str] = []
        self._pairs = np.zeros(0, np.uint64)  # sorted (group, name) keys seen
        self._starts = np.zeros(k.MAX_LABELS, np.int64)
        self._lens = np.zeros(k.MAX_LABELS, np.int64)
        self._hist = np.zeros(256, np.int64)

    def _grow(self, size: int) -> None:
        cap = self.frames.shape[0]
        if size <= cap:
            return
        new = max(size, cap + cap // 2)
        for name, col in self.cols.items():
            grown = np.zeros(new, np.int64)
            grown[:cap] = col
            self.cols[name] = grown
        frames = np.zeros((new, FRAMES_KEPT), np.int64)
        frames[:cap] = self.frames
        self.frames = frames

    def update(self, p: PacketTable) -> None:
        """Add the chunk's DNS queries (first question of each query message to port 53)."""
        sel = np.flatnonzero(
            p.is_dns & ((p.dns_flags & _QR) == 0) & (p.dns_qname_offset > 0) & (p.dport == DNS_PORT)
        )
        n = sel.size
        ints = np.zeros((n, k.N_INTS), np.int64)
        hashes = np.zeros((n, k.N_HASHES), np.uint64)
        entropy = np.zeros(n, np.float64)
        qoff = p.dns_qname_offset[sel].astype(np.int64)
        k.query_features(
            p.buf, qoff, self.cfg.dns_long_name, self._starts, self._lens, self._hist, ints, hashes, entropy
        )
        ok = ints[:, k.F_NAME_LEN] >= 0
        if not ok.any():
            return
        sel, ints, hashes, entropy, qoff = sel[ok], ints[ok], hashes[ok], entropy[ok], qoff[ok]
        chi, clo = p.src_hi[sel], p.src_lo[sel]
        gkey = ((chi * _K1) ^ clo) * _K2 ^ hashes[:, k.H_DOMAIN]
        qtype = p.dns_qtype[sel]
        sub_len = ints[:, k.F_SUB_LEN]
        cfg = self.cfg
        txt = (qtype == QTYPE_TXT) | (qtype == QTYPE_NULL)
        suspicious = ((sub_len >= cfg.dns_long_name) & (entropy >= cfg.dns_min_entropy)) | txt
        if self.n == 0 and not suspicious.any():  # the common case: nothing to start or update
            return
        keys, first, inv = np.unique(gkey, return_index=True, return_inverse=True)
        inv = inv.ravel()
        # a new group starts at its first suspicious query (rows before it are not counted, whatever the
        # chunk boundaries): first suspicious row per key, n when none
        start = np.full(keys.size, sel.size, np.int64)
        susp_rows = np.flatnonzero(suspicious)
        _, at = np.unique(inv[susp_rows], return_index=True)
        start[inv[susp_rows[at]]] = susp_rows[at]
        gids = np.full(keys.size, -1, np.int64)
        for j, key in enumerate(keys.tolist()):
            g = self._gid.get(key)
            if g is None and start[j] < sel.size:
                if self.n >= MAX_GROUPS:
                    self.dropped_groups += 1
                    continue
                row = start[j]
                g = self._new_group(key, p, sel[row], int(qoff[row]), int(ints[row, k.F_DOM_LABELS]))
            else:
                start[j] = 0
            if g is not None:
                gids[j] = g
        keep = (gids[inv] >= 0) & (np.arange(sel.size) >= start[inv])
        if not keep.any():
            return
        if not keep.all():
            sel, ints, hashes, qoff = sel[keep], ints[keep], hashes[keep], qoff[keep]
            gkey, txt, suspicious, sub_len = gkey[keep], txt[keep], suspicious[keep], sub_len[keep]
            keys, first, inv = np.unique(gkey, return_index=True, return_inverse=True)
            inv = inv.ravel()
            gids = np.array([self._gid[key] for key in keys.tolist()], np.int64)
        self._grow(self.n)
        c = self.cols
        counts = np.bincount(inv, minlength=keys.size)
        c["queries"][gids] += counts
        c["suspicious"][gids] += np.bincount(inv, weights=suspicious, minlength=keys.size).astype(np.int64)
        c["txt_null"][gids] += np.bincount(inv, weights=txt, minlength=keys.size).astype(np.int64)
        c["sub_len_sum"][gids] += np.bincount(inv, weights=sub_len, minlength=keys.size).astype(np.int64)
        ts, frame = p.ts_ns[sel], p.frame[sel]
        fresh = c["queries"][gids] == counts
        c["first_ts"][gids[fresh]] = ts[first[fresh]]
        c["first_frame"][gids[fresh]] = frame[first[fresh]]
        last = sel.size - 1 - np.unique(inv[::-1], return_index=True)[1]
        c["last_ts"][gids] = ts[last]
        g = gids[inv]
        rows = suspicious
        if rows.any():  # distinct names are counted among suspicious queries only
            self._count_unique(g[rows], gkey[rows], hashes[rows, k.H_NAME])
            self._keep_frames(g, rows, frame, p, qoff)

    def _new_group(self, key: int, p: PacketTable, row: int, qoff: int, dom_labels: int) -> int:
        g = self.n
        self._gid[key] = g
        self.n += 1
        self.client.append((int(p.src_hi[row]), int(p.src_lo[row])))
        labels = qname_at(p.buf, qoff).split(".")
        domain = ".".join(labels[-dom_labels:]).lower() if dom_labels else ""
        # reverse lookups (in-addr.arpa, ip6.arpa) have long, varied names by design
        self.domain.append("" if domain.endswith("arpa") else domain)
        self.example.append("")
        return g

    def _count_unique(
        self, g: npt.NDArray[np.int64], gkey: npt.NDArray[np.uint64], name: npt.NDArray[np.uint64]
    ) -> None:
        pair, first = np.unique((gkey * _K3) ^ name, return_index=True)
        if self._pairs.size:
            pos = np.minimum(np.searchsorted(self._pairs, pair), self._pairs.size - 1)
            new = self._pairs[pos] != pair
        else:
            new = np.ones(pair.size, np.bool_)
        groups = g[first[new]]
        room = self.cols["unique"][groups] < UNIQUE_CAP
        np.add.at(self.cols["unique"], groups, 1)
        if room.any():  # new pairs are distinct and not yet kept: a merge, not a union
            self._pairs = np.sort(np.concatenate([self._pairs, pair[new][room]]))

    def _keep_frames(
        self,
        g: npt.NDArray[np.int64],
        suspicious: npt.NDArray[np.bool_],
        frame: npt.NDArray[np.int64],
        p: PacketTable,
        qoff: npt.NDArray[np.int64],
    ) -> None:
        rows = np.flatnonzero(suspicious)
        if rows.size == 0:
            return
        gs = g[rows]
        order = np.argsort(gs, kind="stable")
        rows, gs = rows[order], gs[order]
        change = np.ones(gs.size, np.bool_)
        change[1:] = gs[1:] != gs[:-1]
        starts = np.flatnonzero(change)
        rank = np.arange(gs.size) - np.repeat(starts, np.diff(np.append(starts, gs.size)))
        have = (self.frames[gs] > 0).sum(axis=1)
        slot = have + rank
        keep = slot < FRAMES_KEPT
        self.frames[gs[keep], slot[keep]] = frame[rows[keep]]
        for r in rows[starts].tolist():
            gid = int(g[r])
            if not self.example[gid]:
                self.example[gid] = qname_at(p.buf, int(qoff[r]))

    def groups(self) -> dict[str, npt.NDArray[np.int64]]:
        """The per-group columns, trimmed to the groups seen."""
        return {name: col[: self.n] for name, col in self.cols.items()}


def detect_dns_tunnels(state: DnsTunnelState, cfg: SecurityConfig, caps: Caps) -> list[SecurityFinding]:
    """One finding per (client, registered domain) whose queries look like data encoded in names."""
    c = state.groups()
    hit = (
        (c["suspicious"] >= cfg.dns_tunnel_min_queries)
        & (c["unique"] >= cfg.dns_tunnel_min_unique)
        & (c["suspicious"] >= cfg.dns_tunnel_min_share * np.maximum(c["queries"], 1))
    )
    out: list[SecurityFinding] = []
    for g in np.flatnonzero(hit).tolist():
        domain = state.domain[g]
        if not domain:
            continue
        hi, lo = state.client[g]
        client = addr_text(hi, lo)
        q, s, txt, uniq = (int(c[k][g]) for k in ("queries", "suspicious", "txt_null", "unique"))
        mean_len = c["sub_len_sum"][g] / max(q, 1)
        first, last = int(c["first_ts"][g]), int(c["last_ts"][g])
        frames = np.append(state.frames[g], c["first_frame"][g])
        more = "+" if uniq >= UNIQUE_CAP else ""
        out.append(
            make_finding(
                kind="dns_tunnel",
                severity="warning",
                title=f"Possible DNS tunnel from {client} through {domain}",
                detail=(
                    f"{client} sent {q} queries under {domain} in {duration_text((last - first) / 1e9)}: "
                    f"{uniq}{more} distinct names, {s} long and random-looking or TXT/NULL ({txt} TXT/NULL), "
                    f"{mean_len:.0f} characters before the domain on average "
                    f"(e.g. {state.example[g][:120]})."
                ),
                sources=(np.array([hi], np.uint64), np.array([lo], np.uint64)),
                targets=(np.zeros(0, np.uint64), np.zeros(0, np.uint64)),
                first_ns=first,
                last_ns=last,
                count=s,
                unit="queries",
                frames=frames,
                display_filter=(
                    f"{ip_field(hi, lo, 'src')} && dns.flags.response == 0 && "
                    f"dns.qry.name contains {quote(domain)}"
                ),
                facts={
                    "domain": domain,
                    "queries": q,
                    "unique_names": uniq,
                    "txt_null": txt,
                    "mean_subdomain_chars": round(float(mean_len), 1),
                },
                caps=caps,
            )
        )
        out[-1].targets = [domain]
        out[-1].facts["targets_total"] = 1
    return out
