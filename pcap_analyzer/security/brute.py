"""Brute force: many short, small connections from one source to one authentication service."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.report.model import SecurityFinding
from pcap_analyzer.security.addresses import addr_text, ip_field
from pcap_analyzer.security.config import SecurityConfig
from pcap_analyzer.security.conns import Conns, densest_window, group_rows
from pcap_analyzer.security.finding import Caps, duration_text, make_finding

# Services that take a password: FTP, SSH, Telnet, POP3, IMAP, LDAP, SMB (and NetBIOS session), IMAPS,
# POP3S, MS SQL, Oracle, MySQL, RDP, PostgreSQL, VNC, WinRM, Redis, MongoDB.
AUTH_PORTS = {
    21: "FTP",
    22: "SSH",
    23: "Telnet",
    110: "POP3",
    139: "NetBIOS",
    143: "IMAP",
    389: "LDAP",
    445: "SMB",
    993: "IMAPS",
    995: "POP3S",
    1433: "MS SQL",
    1521: "Oracle",
    3306: "MySQL",
    3389: "RDP",
    5432: "PostgreSQL",
    5900: "VNC",
    5985: "WinRM",
    5986: "WinRM",
    6379: "Redis",
    27017: "MongoDB",
}


def detect_brute_force(c: Conns, cfg: SecurityConfig, caps: Caps) -> list[SecurityFinding]:
    """One finding per (source, server, port) whose connections are mostly short attempts."""
    t = c.table
    auth = np.isin(t.b_port, np.fromiter(AUTH_PORTS, np.uint16))
    rows = np.flatnonzero(c.tcp & auth & c.synack)  # the service answered: something to log in to
    out: list[SecurityFinding] = []
    duration = (t.last_ts_ns - t.first_ts_ns) / 1e9
    payload = t.payload_ab + t.payload_ba
    for g in group_rows(
        t.a_hi[rows],
        t.a_lo[rows],
        t.b_hi[rows],
        t.b_lo[rows],
        t.b_port[rows],
        min_size=cfg.brute_min_attempts,
    ):
        r = rows[g]
        ts = t.first_ts_ns[r] / 1e9
        order = np.argsort(ts, kind="stable")
        r, ts = r[order], ts[order]
        i, j = densest_window(ts, cfg.brute_window_s)
        r = r[i:j]
        attempt = (duration[r] <= cfg.brute_max_duration_s) & (payload[r] <= cfg.brute_max_bytes)
        n_attempts = int(attempt.sum())
        if n_attempts < cfg.brute_min_attempts or attempt.mean() < cfg.brute_min_failed_share:
            continue
        a = r[attempt]
        r0 = int(r[0])
        src, dst, port = (
            addr_text(t.a_hi[r0], t.a_lo[r0]),
            addr_text(t.b_hi[r0], t.b_lo[r0]),
            int(t.b_port[r0]),
        )
        service = AUTH_PORTS[port]
        first, last = int(t.first_ts_ns[a].min()), int(t.last_ts_ns[a].max())
        reset = int(c.rst_b[a].sum())
        out.append(
            make_finding(
                kind="brute_force",
                severity="warning",
                title=f"{service} brute force against {dst} from {src}",
                detail=(
                    f"{src} opened {n_attempts} short {service} connections to {dst} port {port} in "
                    f"{duration_text((last - first) / 1e9)} (median {np.median(duration[a]):.1f} s, "
                    f"{int(np.median(payload[a]))} bytes each; {reset} reset by the server), "
                    "the pattern of repeated failed logins."
                ),
                sources=(t.a_hi[a[:1]], t.a_lo[a[:1]]),
                targets=(t.b_hi[a[:1]], t.b_lo[a[:1]]),
                first_ns=first,
                last_ns=last,
                count=n_attempts,
                unit="connections",
                frames=t.first_frame[a],
                display_filter=(
                    f"{ip_field(t.a_hi[r0], t.a_lo[r0], 'src')} && {ip_field(t.b_hi[r0], t.b_lo[r0], 'dst')}"
                    f" && tcp.dstport == {port} && tcp.flags.syn == 1 && tcp.flags.ack == 0"
                ),
                facts={
                    "service": service,
                    "port": port,
                    "reset_by_server": reset,
                    "attempt_share": round(float(attempt.mean()), 3),
                },
                caps=caps,
            )
        )
    return out
