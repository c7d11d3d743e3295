"""Exfiltration: an internal host sending far more to one external address than it receives from it."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.report.model import SecurityFinding
from pcap_analyzer.security.addresses import addr_text, ip_field, is_external, is_internal
from pcap_analyzer.security.config import SecurityConfig
from pcap_analyzer.security.conns import Conns, group_rows
from pcap_analyzer.security.finding import Caps, duration_text, make_finding


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def detect_exfiltration(c: Conns, cfg: SecurityConfig, caps: Caps) -> list[SecurityFinding]:
    """One finding per (internal host, external address) pair with a large, one-sided upload."""
    t = c.table
    a_in, b_in = is_internal(t.a_hi, t.a_lo), is_internal(t.b_hi, t.b_lo)
    a_out, b_out = is_external(t.a_hi, t.a_lo), is_external(t.b_hi, t.b_lo)
    ab = a_in & b_out  # the internal host started the conversation
    ba = b_in & a_out
    rows = np.flatnonzero(ab | ba)
    if rows.size == 0:
        return []
    fwd = ab[rows]
    host_hi = np.where(fwd, t.a_hi[rows], t.b_hi[rows])
    host_lo = np.where(fwd, t.a_lo[rows], t.b_lo[rows])
    ext_hi = np.where(fwd, t.b_hi[rows], t.a_hi[rows])
    ext_lo = np.where(fwd, t.b_lo[rows], t.a_lo[rows])
    up = np.where(fwd, t.payload_ab[rows], t.payload_ba[rows])
    down = np.where(fwd, t.payload_ba[rows], t.payload_ab[rows])
    out: list[SecurityFinding] = []
    for g in group_rows(host_hi, host_lo, ext_hi, ext_lo, weights=up, min_weight=cfg.exfil_min_bytes):
        sent, got = int(up[g].sum()), int(down[g].sum())
        if sent < cfg.exfil_min_bytes or sent < cfg.exfil_min_ratio * max(got, 1):
            continue
        r = rows[g]
        h, e = int(g[0]), int(g[0])
        host, ext = addr_text(host_hi[h], host_lo[h]), addr_text(ext_hi[e], ext_lo[e])
        first, last = int(t.first_ts_ns[r].min()), int(t.last_ts_ns[r].max())
        seconds = max((last - first) / 1e9, 1e-9)
        ratio = sent / max(got, 1)
        out.append(
            make_finding(
                kind="exfiltration",
                severity="warning",
                title=f"{host} uploaded {_mib(sent)} to {ext}",
                detail=(
                    f"Internal host {host} sent {_mib(sent)} to external address {ext} over "
                    f"{duration_text((last - first) / 1e9)} and received {_mib(got)} back "
                    f"({ratio:.0f} times more out than in) in {r.size} conversations."
                ),
                sources=(host_hi[g[:1]], host_lo[g[:1]]),
                targets=(ext_hi[g[:1]], ext_lo[g[:1]]),
                first_ns=first,
                last_ns=last,
                count=int(r.size),
                unit="conversations",
                frames=t.first_frame[r],
                display_filter=(
                    f"{ip_field(host_hi[h], host_lo[h], 'addr')} && {ip_field(ext_hi[e], ext_lo[e], 'addr')}"
                ),
                facts={
                    "bytes_up": sent,
                    "bytes_down": got,
                    "ratio": round(ratio, 1),
                    "rate_bps": round(sent * 8 / seconds, 1),
                },
                caps=caps,
            )
        )
    return out
