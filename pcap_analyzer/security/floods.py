"""Floods: SYNs to one service with few completed handshakes; UDP packets or ICMP echo requests to one
host at a high rate with next to no answer."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.report.model import SecurityFinding
from pcap_analyzer.security.addresses import addr_text, ip_field, is_multicast, is_v4
from pcap_analyzer.security.config import SecurityConfig
from pcap_analyzer.security.conns import IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_UDP, Conns, group_rows
from pcap_analyzer.security.finding import Caps, duration_text, make_finding


def _window(c: Conns, rows: npt.NDArray[np.int64]) -> tuple[int, int, float]:
    """(first ns, last ns, seconds, at least 1 s so that a short burst is not taken for a huge rate)."""
    first, last = int(c.table.first_ts_ns[rows].min()), int(c.table.last_ts_ns[rows].max())
    return first, last, max((last - first) / 1e9, 1.0)


def detect_syn_floods(c: Conns, cfg: SecurityConfig, caps: Caps) -> list[SecurityFinding]:
    """One finding per service (address, port) that received many SYNs, few of them completed."""
    t = c.table
    rows = np.flatnonzero(c.tcp & (c.syn > 0))
    out: list[SecurityFinding] = []
    for g in group_rows(
        t.b_hi[rows], t.b_lo[rows], t.b_port[rows], weights=c.syn[rows], min_weight=cfg.syn_flood_min_syns
    ):
        r = rows[g]
        half_open = r[~c.handshake[r] & ~c.data[r]]
        syns = int(c.syn[half_open].sum())
        if syns < cfg.syn_flood_min_syns:
            continue
        first, last, seconds = _window(c, half_open)
        rate = syns / seconds
        completed = float(c.handshake[r].mean())
        if rate < cfg.syn_flood_min_rate or completed > cfg.syn_flood_max_completed_share:
            continue
        b = int(r[0])
        target, port = addr_text(t.b_hi[b], t.b_lo[b]), int(t.b_port[b])
        n_src = np.unique(np.stack([t.a_hi[half_open], t.a_lo[half_open]], axis=1), axis=0).shape[0]
        out.append(
            make_finding(
                kind="syn_flood",
                severity="critical",
                title=f"SYN flood against {target} port {port}",
                detail=(
                    f"{target} port {port} received {syns} SYNs from {n_src} source addresses in "
                    f"{duration_text((last - first) / 1e9)} ({rate:.0f}/s); {completed:.0%} of the "
                    "connections to it completed their handshake."
                ),
                sources=(t.a_hi[half_open], t.a_lo[half_open]),
                targets=(t.b_hi[r[:1]], t.b_lo[r[:1]]),
                first_ns=first,
                last_ns=last,
                count=syns,
                unit="SYN packets",
                frames=t.first_frame[half_open],
                display_filter=(
                    f"{ip_field(t.b_hi[b], t.b_lo[b], 'dst')} && tcp.dstport == {port} && "
                    "tcp.flags.syn == 1 && tcp.flags.ack == 0"
                ),
                facts={"port": port, "rate_per_s": round(rate, 1), "completed_share": round(completed, 3)},
                caps=caps,
            )
        )
    return out


def detect_rate_floods(c: Conns, cfg: SecurityConfig, caps: Caps) -> list[SecurityFinding]:
    """UDP and ICMP echo floods: one finding per target host and protocol."""
    t = c.table
    out: list[SecurityFinding] = []
    target_ok = ~is_multicast(t.b_hi, t.b_lo)  # multicast streams (IPTV, discovery) are one-way by design
    udp = np.flatnonzero((t.ip_proto == IPPROTO_UDP) & target_ok)
    for g in group_rows(
        t.b_hi[udp], t.b_lo[udp], weights=t.packets_ab[udp], min_weight=cfg.udp_flood_min_packets
    ):
        r = udp[g]
        sent, back = int(t.packets_ab[r].sum()), int(t.packets_ba[r].sum())
        if sent < cfg.udp_flood_min_packets or back > cfg.udp_flood_max_reply_share * sent:
            continue
        first, last, seconds = _window(c, r)
        if sent / seconds < cfg.udp_flood_min_rate:
            continue
        out.append(_rate_finding(c, r, "udp_flood", "UDP", sent, seconds, first, last, "udp", caps))
    icmp = np.flatnonzero(
        ((t.ip_proto == IPPROTO_ICMP) | (t.ip_proto == IPPROTO_ICMPV6)) & target_ok & (c.echo > 0)
    )
    for g in group_rows(
        t.b_hi[icmp], t.b_lo[icmp], weights=c.echo[icmp], min_weight=cfg.icmp_flood_min_packets
    ):
        r = icmp[g]
        sent = int(c.echo[r].sum())
        if sent < cfg.icmp_flood_min_packets:
            continue
        first, last, seconds = _window(c, r)
        if sent / seconds < cfg.icmp_flood_min_rate:
            continue
        proto = "icmp.type == 8" if is_v4(t.b_hi[r[:1]], t.b_lo[r[:1]])[0] else "icmpv6.type == 128"
        out.append(_rate_finding(c, r, "icmp_flood", "ICMP echo", sent, seconds, first, last, proto, caps))
    return out


def _rate_finding(
    c: Conns,
    r: npt.NDArray[np.int64],
    kind: str,
    what: str,
    sent: int,
    seconds: float,
    first: int,
    last: int,
    proto_filter: str,
    caps: Caps,
) -> SecurityFinding:
    t = c.table
    b = int(r[0])
    target = addr_text(t.b_hi[b], t.b_lo[b])
    rate = sent / seconds
    n_src = np.unique(np.stack([t.a_hi[r], t.a_lo[r]], axis=1), axis=0).shape[0]
    return make_finding(
        kind=kind,
        severity="critical",
        title=f"{what} flood against {target}",
        detail=(
            f"{target} received {sent} {what} packets from {n_src} source addresses in "
            f"{duration_text((last - first) / 1e9)} ({rate:.0f}/s) and answered almost none."
        ),
        sources=(t.a_hi[r], t.a_lo[r]),
        targets=(t.b_hi[r[:1]], t.b_lo[r[:1]]),
        first_ns=first,
        last_ns=last,
        count=sent,
        unit="packets",
        frames=t.first_frame[r],
        display_filter=f"{ip_field(t.b_hi[b], t.b_lo[b], 'dst')} && {proto_filter}",
        facts={"rate_per_s": round(rate, 1)},
        caps=caps,
    )
