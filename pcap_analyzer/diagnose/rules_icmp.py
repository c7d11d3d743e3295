"""Findings from ICMP diagnostics and TCP waits: PMTU signals and black-hole hints, many unreachables,
zero-window stalls, idle and never-closed connections, SYN retransmission timing.

Severity follows the evidence rules (`measures.weigh`): fewer than `min_evidence_events` events keep a
finding at info. Impact ranks findings like the TCP rules (a warning's impact is its health penalty, capped at
10 per kind): log2(1 + messages) up to 5 for unreachables, 0.1 x stalled % up to 8 for a stalled connection
(the zero windows themselves already weigh in `tcp.zero_window`), 2 x large retransmissions up to 10 for a
black-hole suspect.
"""

from __future__ import annotations

import math
from collections import Counter

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.diagnose.measures import weigh
from pcap_analyzer.report.model import AnalysisResult, Evidence, Finding


def _n(n: int, what: str) -> str:
    """ "1 connection", "3 connections"."""
    return f"{n:,} {what}" + ("" if n == 1 else "s")


def _frames(frames: list[int], cfg: AnalysisConfig) -> list[int]:
    return sorted(frames)[: cfg.max_evidence_frames]


def _streams(streams: list[int], cfg: AnalysisConfig) -> Evidence:
    return Evidence(streams=sorted(streams)[: cfg.max_evidence_frames])


def pmtu_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    icmp = result.icmp
    if icmp.fragmentation_needed:
        paths = ", ".join(f"{p.router} -> {p.destination or '?'}: {p.mtu}" for p in icmp.pmtu[:5])
        mtus = ", ".join(str(m) for m in icmp.next_hop_mtus) or "not given"
        n = icmp.fragmentation_needed
        title = (
            f"{_n(n, 'ICMP fragmentation-needed / packet-too-big message')}: a path has a smaller MTU "
            f"(next-hop MTU {mtus})"
        )
        detail = (
            f"Routers dropped packets too large for the next link and said so ({paths}). Senders that "
            "receive these messages lower their packet size (path MTU discovery); if a firewall filters "
            "them before the sender, large packets vanish without a trace (a PMTU black hole). Check the "
            "MTU of tunnels and VPN links on these paths, or clamp the TCP MSS."
        )
        frames = _frames([p.first_frame for p in icmp.pmtu], cfg)
        out.append(
            Finding(
                id="icmp.fragmentation_needed",
                severity="info",
                title=title,
                detail=detail,
                impact=min(5.0, 1 + math.log2(1 + n)),
                evidence=Evidence(frames=frames),
            )
        )
    for s in result.tcp_waits.black_hole_suspects:
        sev, note = weigh("warning", s.large_retransmissions, s.large_segments, cfg)
        title = (
            f"Possible PMTU black hole from {s.sender} to {s.receiver}: {s.large_retransmissions:,} of "
            f"{s.large_segments:,} large segments were retransmitted while small ones passed"
        )
        detail = (
            f"Segments of at least {cfg.pmtu_large_segment_bytes:,} bytes (pmtu_large_segment_bytes) were "
            f"resent again and again; the {s.small_segments:,} smaller ones needed no retransmission. A link "
            "with a smaller MTU that drops large packets without an ICMP fragmentation-needed message (or a "
            "firewall that filters it) produces exactly this. Lower the MTU / clamp the MSS on the path, or "
            f"let ICMP type 3 code 4 (ICMPv6 type 2) through. Wireshark: {s.filter}" + note
        )
        out.append(
            Finding(
                id="tcp.pmtu_black_hole",
                severity=sev,
                title=title,
                detail=detail,
                impact=min(10.0, 2.0 * s.large_retransmissions),
                evidence=Evidence(streams=[s.stream], flows=[f"{s.sender} -> {s.receiver}"]),
            )
        )
    return out


def unreachable_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    icmp = result.icmp
    out = []
    if icmp.unreachable:
        codes: Counter[str] = Counter()
        for name, count in icmp.messages.items():
            if "Destination unreachable/" in name:
                codes[name.split("/", 1)[1]] += count
        listed = ", ".join(f"{k:,} {c.lower()}" for c, k in codes.most_common(4))
        n = icmp.unreachable
        sev, note = weigh("warning", n, max(n, cfg.min_sample_packets), cfg)
        targets = ", ".join(p.address for p in icmp.destinations if p.errors)[:200]
        detail = (
            f"Sent to {targets or 'various hosts'}. Port unreachable means nothing listens on a UDP port; "
            "host or net unreachable, that a router has no way to the destination; administratively "
            "prohibited, that a firewall rejects the traffic. Each one is a failed attempt the application "
            "will retry or report. Wireshark: icmp.type == 3 || icmpv6.type == 1" + note
        )
        out.append(
            Finding(
                id="icmp.unreachable",
                severity=sev,
                title=f"{_n(n, 'ICMP destination-unreachable message')} ({listed})",
                detail=detail,
                impact=min(5.0, math.log2(1 + n)),
                evidence=Evidence(frames=_frames(icmp.error_frames.get("unreachable", []), cfg)),
            )
        )
    if icmp.time_exceeded:
        out.append(
            Finding(
                id="icmp.time_exceeded",
                severity="info",
                title=f"{_n(icmp.time_exceeded, 'ICMP time-exceeded message')} (TTL / hop limit expired)",
                detail="Expected from traceroute; otherwise a routing loop or a too-small initial TTL "
                "drops packets. Wireshark: icmp.type == 11 || icmpv6.type == 3",
                impact=0.5,
                evidence=Evidence(frames=_frames(icmp.error_frames.get("time_exceeded", []), cfg)),
            )
        )
    if icmp.redirects:
        out.append(
            Finding(
                id="icmp.redirect",
                severity="info",
                title=f"{_n(icmp.redirects, 'ICMP redirect')}: a router sends traffic back out of the link "
                "it came in on",
                detail="Hosts use a router while a better next hop sits on their own link: check their "
                "routes. Wireshark: icmp.type == 5 || icmpv6.type == 137",
                impact=0.5,
                evidence=Evidence(frames=_frames(icmp.error_frames.get("redirect", []), cfg)),
            )
        )
    return out


def stall_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for c in result.tcp_waits.stalls:
        if c.stalled_pct < cfg.stall_share_pct or c.stalled_ms <= 0:
            continue
        sev, note = weigh("warning", c.stalls, max(c.stalls, cfg.min_sample_packets), cfg)
        title = (
            f"{c.client} -> {c.server} was blocked by zero windows for {c.stalled_pct:.0f}% of its "
            f"{c.duration_s:,.1f} s ({_n(c.stalls, 'stall')}, longest {c.longest_stall_ms:,.0f} ms)"
        )
        detail = (
            f"The {c.zero_window_by or 'receiving'} side advertised a zero receive window: its application "
            "reads too slowly, so the sender had to wait. Look at the receiving application's CPU, disk or "
            f"read loop (stall_share_pct = {cfg.stall_share_pct:g} %). Wireshark: {c.filter}" + note
        )
        out.append(
            Finding(
                id="tcp.window_stall",
                severity=sev,
                title=title,
                detail=detail,
                impact=min(8.0, 0.1 * c.stalled_pct),
                evidence=Evidence(streams=[c.stream], flows=[f"{c.client} -> {c.server}"]),
            )
        )
    return out


def idle_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    w = result.tcp_waits
    out = []
    if w.idle_connections and w.idle:
        title = (
            f"{_n(w.idle_connections, 'connection')} stayed idle for more than {cfg.idle_threshold_s:g} s "
            f"(longest {w.idle[0].longest_idle_s:,.1f} s)"
        )
        detail = (
            "No packet in either direction for a while inside the connection: a long poll, a pooled "
            "connection, or an application waiting. Firewalls and NAT devices may drop such connections "
            "(idle_threshold_s)."
        )
        evidence = _streams([c.stream for c in w.idle], cfg)
        out.append(
            Finding(id="tcp.idle", severity="info", title=title, detail=detail, impact=0.5, evidence=evidence)
        )
    if w.never_closed_connections:
        stale = [c for c in w.never_closed if c.idle_at_end_s >= cfg.idle_threshold_s]
        title = f"{_n(w.never_closed_connections, 'connection')} never closed (no FIN or RST) in the capture"
        if stale:
            title += f"; {len(stale):,} had been silent for more than {cfg.idle_threshold_s:g} s (half-dead?)"
        detail = (
            "Connections still open when the capture stopped. Those silent for long may be half-dead: one "
            "side has gone (crash, NAT timeout) and the other still holds the connection."
        )
        evidence = _streams([c.stream for c in w.never_closed], cfg)
        impact = 0.5 + min(2.0, 0.1 * len(stale))
        out.append(
            Finding(
                id="tcp.never_closed",
                severity="info",
                title=title,
                detail=detail,
                impact=impact,
                evidence=evidence,
            )
        )
    odd = [r for r in w.syn_retries if not r.rfc6298]
    if odd:
        clients = sorted({r.client.rsplit(":", 1)[0] for r in odd})
        shown = ", ".join(f"{i / 1000:.2f}" for i in odd[0].intervals_ms[:5])
        title = (
            f"{_n(w.syn_retry_nonstandard, 'connection attempt')} retransmitted the SYN at intervals other "
            f"than RFC 6298's 1, 2, 4 ... s (e.g. {shown} s from {odd[0].client})"
        )
        detail = (
            f"Clients: {', '.join(clients[:10])}. Linux since 6.7 retries the first SYNs every second "
            "(tcp_syn_linear_timeouts); other intervals point at a tuned stack or a middlebox resending SYNs "
            f"(syn_rto_tolerance_pct = {cfg.syn_rto_tolerance_pct:g} %)."
        )
        evidence = _streams([r.stream for r in odd], cfg)
        out.append(
            Finding(
                id="tcp.syn_timing",
                severity="info",
                title=title,
                detail=detail,
                impact=0.5,
                evidence=evidence,
            )
        )
    return out


ICMP_RULES = (pmtu_findings, unreachable_findings, stall_findings, idle_findings)
