"""Lateral movement: one internal host opening SMB, RDP, WinRM or RPC sessions to several internal hosts."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.report.model import SecurityFinding
from pcap_analyzer.security.addresses import addr_text, ip_field, is_internal
from pcap_analyzer.security.config import SecurityConfig
from pcap_analyzer.security.conns import Conns, densest_window, group_rows
from pcap_analyzer.security.finding import Caps, duration_text, make_finding

ADMIN_PORTS = {135: "RPC", 139: "SMB", 445: "SMB", 3389: "RDP", 5985: "WinRM", 5986: "WinRM"}


def detect_lateral_movement(c: Conns, cfg: SecurityConfig, caps: Caps) -> list[SecurityFinding]:
    """One finding per source host that held sessions (data exchanged) with many internal hosts."""
    t = c.table
    admin = np.isin(t.b_port, np.fromiter(ADMIN_PORTS, np.uint16))
    inside = is_internal(t.a_hi, t.a_lo) & is_internal(t.b_hi, t.b_lo)
    rows = np.flatnonzero(c.tcp & admin & inside & c.synack & c.data)
    out: list[SecurityFinding] = []
    for g in group_rows(t.a_hi[rows], t.a_lo[rows], min_size=cfg.lateral_min_hosts):
        r = rows[g]
        ts = t.first_ts_ns[r] / 1e9
        order = np.argsort(ts, kind="stable")
        r, ts = r[order], ts[order]
        # the densest window by distinct hosts: first session per host only
        _, first_per_host = np.unique(np.stack([t.b_hi[r], t.b_lo[r]], axis=1), axis=0, return_index=True)
        first_per_host.sort()
        i, j = densest_window(ts[first_per_host], cfg.lateral_window_s)
        hosts = r[first_per_host[i:j]]
        if hosts.size < cfg.lateral_min_hosts:
            continue
        lo_ns, hi_ns = int(t.first_ts_ns[hosts].min()), int(t.first_ts_ns[hosts].max())
        sessions = r[(t.first_ts_ns[r] >= lo_ns) & (t.first_ts_ns[r] <= hi_ns)]
        r0 = int(r[0])
        src = addr_text(t.a_hi[r0], t.a_lo[r0])
        services = sorted({ADMIN_PORTS[int(p)] for p in np.unique(t.b_port[sessions]).tolist()})
        ports = " ".join(str(p) for p in sorted(ADMIN_PORTS))
        last = int(t.last_ts_ns[sessions].max())
        out.append(
            make_finding(
                kind="lateral_movement",
                severity="warning",
                title=f"{src} opened {'/'.join(services)} sessions to {hosts.size} internal hosts",
                detail=(
                    f"{src} exchanged data over {'/'.join(services)} with {hosts.size} internal hosts within "
                    f"{duration_text((hi_ns - lo_ns) / 1e9)} ({sessions.size} connections), as an attacker "
                    "moving from host to host would."
                ),
                sources=(t.a_hi[hosts[:1]], t.a_lo[hosts[:1]]),
                targets=(t.b_hi[hosts], t.b_lo[hosts]),
                first_ns=lo_ns,
                last_ns=last,
                count=int(sessions.size),
                unit="connections",
                frames=t.first_frame[sessions],
                display_filter=(
                    f"{ip_field(t.a_hi[r0], t.a_lo[r0], 'src')} && tcp.dstport in {{{ports}}} && "
                    "tcp.flags.syn == 1 && tcp.flags.ack == 0"
                ),
                facts={"hosts": int(hosts.size), "services": "/".join(services)},
                caps=caps,
            )
        )
    return out
