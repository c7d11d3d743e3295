"""Port scans: one source probing many ports of one host (vertical) or one port on many hosts
(horizontal) within a window, mostly unanswered or refused; SYN, FIN, NULL and XMAS flavours."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.report.model import SecurityFinding
from pcap_analyzer.security.addresses import ip_field
from pcap_analyzer.security.config import SecurityConfig
from pcap_analyzer.security.conns import ODD_FIN, ODD_NULL, ODD_XMAS, Conns, densest_window, group_rows
from pcap_analyzer.security.finding import Caps, duration_text, make_finding

SYN = 8  # flavour code of a SYN probe (the ODD_* bits are the others)
FLAVOURS = {
    SYN: ("SYN", "tcp.flags.syn == 1 && tcp.flags.ack == 0"),
    ODD_FIN: ("FIN", "tcp.flags.fin == 1 && tcp.flags.ack == 0 && tcp.flags.push == 0"),
    ODD_NULL: ("NULL", "tcp.flags & 0x03f == 0"),
    ODD_XMAS: (
        "XMAS",
        "tcp.flags.fin == 1 && tcp.flags.push == 1 && tcp.flags.urg == 1 && tcp.flags.ack == 0",
    ),
}


def _flavour(c: Conns) -> npt.NDArray[np.int64]:
    """Flavour code of each conversation's probe (0 = not a probe): SYN, else the odd flags seen."""
    f = np.zeros(len(c.table), np.int64)
    for bit in (ODD_FIN, ODD_NULL, ODD_XMAS):
        f[(c.odd & bit) > 0] = bit
    f[c.syn > 0] = SYN
    # a probe carries no data: a real connection is not a probe whatever its first packet
    f[~c.tcp | c.data] = 0
    return f


def detect_scans(c: Conns, cfg: SecurityConfig, caps: Caps) -> list[SecurityFinding]:
    """Vertical and horizontal scans, one finding per (scanner, target or port, flavour)."""
    flavour = _flavour(c)
    rows = np.flatnonzero(flavour > 0)
    if rows.size == 0:
        return []
    t = c.table
    unanswered = (t.packets_ba == 0)[rows]
    refused = (c.rst_b & ~c.synack)[rows]
    failed = unanswered | refused
    fl = flavour[rows]
    out: list[SecurityFinding] = []
    vertical = group_rows(
        t.a_hi[rows], t.a_lo[rows], t.b_hi[rows], t.b_lo[rows], fl, min_size=cfg.scan_min_ports
    )
    for g in vertical:
        f = _scan(c, rows[g], failed[g], unanswered[g], refused[g], int(fl[g[0]]), cfg, caps, "vertical")
        if f is not None:
            out.append(f)
    horizontal = group_rows(t.a_hi[rows], t.a_lo[rows], t.b_port[rows], fl, min_size=cfg.scan_min_hosts)
    for g in horizontal:
        f = _scan(c, rows[g], failed[g], unanswered[g], refused[g], int(fl[g[0]]), cfg, caps, "horizontal")
        if f is not None:
            out.append(f)
    return out


def _scan(
    c: Conns,
    rows: npt.NDArray[np.int64],
    failed: npt.NDArray[np.bool_],
    unanswered: npt.NDArray[np.bool_],
    refused: npt.NDArray[np.bool_],
    flavour: int,
    cfg: SecurityConfig,
    caps: Caps,
    direction: str,
) -> SecurityFinding | None:
    t = c.table
    ts = t.first_ts_ns[rows] / 1e9
    order = np.argsort(ts, kind="stable")
    rows, failed, unanswered, refused, ts = (
        rows[order],
        failed[order],
        unanswered[order],
        refused[order],
        ts[order],
    )
    i, j = densest_window(ts, cfg.scan_window_s)
    rows, failed, unanswered, refused = rows[i:j], failed[i:j], unanswered[i:j], refused[i:j]
    if direction == "vertical":
        spread = np.unique(t.b_port[rows]).size
        if spread < cfg.scan_min_ports:
            return None
    else:
        spread = np.unique(np.stack([t.b_hi[rows], t.b_lo[rows]], axis=1), axis=0).shape[0]
        if spread < cfg.scan_min_hosts:
            return None
    if failed.mean() < cfg.scan_min_failed_share:
        return None
    name, flags_filter = FLAVOURS[flavour]
    r0 = int(rows[0])
    src = ip_field(t.a_hi[r0], t.a_lo[r0], "src")
    first, last = int(t.first_ts_ns[rows].min()), int(t.last_ts_ns[rows].max())
    span = duration_text((last - first) / 1e9)
    scanner = src.split(" == ")[1]
    n_ref, n_unans = int(refused.sum()), int(unanswered.sum())
    if direction == "vertical":
        target = ip_field(t.b_hi[r0], t.b_lo[r0], "dst")
        where = f"{src} && {target}"
        what = f"{spread} TCP ports of {target.split(' == ')[1]}"
        title = f"{name} port scan of {target.split(' == ')[1]} by {scanner}"
    else:
        port = int(t.b_port[r0])
        where = f"{src} && tcp.dstport == {port}"
        what = f"TCP port {port} on {spread} hosts"
        title = f"{name} sweep of port {port} by {scanner}"
    detail = (
        f"{scanner} sent {name} probes to {what} within {span}: {n_ref} refused, {n_unans} unanswered, "
        f"{rows.size - n_ref - n_unans} answered."
    )
    return make_finding(
        kind="port_scan",
        severity="warning",
        title=title,
        detail=detail,
        sources=(t.a_hi[rows], t.a_lo[rows]),
        targets=(t.b_hi[rows], t.b_lo[rows]),
        first_ns=first,
        last_ns=last,
        count=int(rows.size),
        unit="probes",
        frames=t.first_frame[rows],
        display_filter=f"{where} && {flags_filter}",
        facts={
            "scan": direction,
            "flavour": name,
            "ports" if direction == "vertical" else "hosts": int(spread),
            "refused": n_ref,
            "unanswered": n_unans,
        },
        caps=caps,
    )
