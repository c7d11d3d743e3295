"""Beaconing: connections from one host to one service at a regular interval, with similar sizes."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.report.model import SecurityFinding
from pcap_analyzer.security.addresses import addr_text, ip_field, is_external, is_multicast
from pcap_analyzer.security.config import SecurityConfig
from pcap_analyzer.security.conns import IPPROTO_TCP, IPPROTO_UDP, Conns, group_rows
from pcap_analyzer.security.finding import Caps, duration_text, make_finding

# Periodic by design: DNS, DHCP, NTP, NetBIOS name/datagram, SSDP, mDNS, LLMNR.
IGNORED_PORTS = (53, 67, 68, 123, 137, 138, 1900, 5353, 5355)


def detect_beaconing(c: Conns, cfg: SecurityConfig, caps: Caps) -> list[SecurityFinding]:
    """One finding per (host, destination, port, protocol) whose connections start at a steady rhythm."""
    t = c.table
    proto_ok = (t.ip_proto == IPPROTO_TCP) | (t.ip_proto == IPPROTO_UDP)
    dest_ok = ~is_multicast(t.b_hi, t.b_lo) & ~np.isin(t.b_port, np.array(IGNORED_PORTS, np.uint16))
    rows = np.flatnonzero(proto_ok & dest_ok)
    out: list[SecurityFinding] = []
    size = (t.bytes_ab + t.bytes_ba).astype(np.float64)
    for g in group_rows(
        t.a_hi[rows],
        t.a_lo[rows],
        t.b_hi[rows],
        t.b_lo[rows],
        t.b_port[rows],
        t.ip_proto[rows],
        min_size=cfg.beacon_min_connections,
    ):
        r = rows[g]
        r = r[np.argsort(t.first_ts_ns[r], kind="stable")]
        gaps = np.diff(t.first_ts_ns[r]) / 1e9
        mean = float(gaps.mean())
        if mean < cfg.beacon_min_interval_s:
            continue
        jitter = float(gaps.std()) / mean
        sizes = size[r]
        size_cv = float(sizes.std() / sizes.mean()) if sizes.mean() > 0 else 0.0
        if jitter > cfg.beacon_max_jitter or size_cv > cfg.beacon_max_size_cv:
            continue
        r0 = int(r[0])
        src, dst, port = (
            addr_text(t.a_hi[r0], t.a_lo[r0]),
            addr_text(t.b_hi[r0], t.b_lo[r0]),
            int(t.b_port[r0]),
        )
        proto = "tcp" if t.ip_proto[r0] == IPPROTO_TCP else "udp"
        external = bool(is_external(t.b_hi[r[:1]], t.b_lo[r[:1]])[0])
        first, last = int(t.first_ts_ns[r].min()), int(t.last_ts_ns[r].max())
        start = " && tcp.flags.syn == 1 && tcp.flags.ack == 0" if proto == "tcp" else ""
        out.append(
            make_finding(
                kind="beaconing",
                # a steady rhythm to an internal server is usually monitoring or polling
                severity="warning" if external else "info",
                title=f"{src} beacons to {dst} port {port}/{proto} every {mean:.0f} s",
                detail=(
                    f"{src} opened {r.size} {proto.upper()} connections to "
                    f"{'external' if external else 'internal'} {dst} port {port} over "
                    f"{duration_text((last - first) / 1e9)}, every {mean:.1f} s "
                    f"(jitter {jitter:.0%}) with similar sizes (about {int(sizes.mean())} bytes, "
                    f"variation {size_cv:.0%})."
                ),
                sources=(t.a_hi[r[:1]], t.a_lo[r[:1]]),
                targets=(t.b_hi[r[:1]], t.b_lo[r[:1]]),
                first_ns=first,
                last_ns=last,
                count=int(r.size),
                unit="connections",
                frames=t.first_frame[r],
                display_filter=(
                    f"{ip_field(t.a_hi[r0], t.a_lo[r0], 'src')} && {ip_field(t.b_hi[r0], t.b_lo[r0], 'dst')}"
                    f" && {proto}.dstport == {port}{start}"
                ),
                facts={
                    "interval_s": round(mean, 3),
                    "jitter": round(jitter, 4),
                    "size_cv": round(size_cv, 4),
                    "port": port,
                    "protocol": proto,
                },
                caps=caps,
            )
        )
    return out
