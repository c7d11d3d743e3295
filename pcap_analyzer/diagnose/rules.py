"""TCP diagnosis rules: per-server figures (`AnalysisResult.tcp_servers`, over ALL connections) to findings.

Rates use the server's whole traffic as denominator: loss over all data segments to and from the
server, timeout waiting over all connection time to it, "N of M connections". The listed connections
(`AnalysisResult.connections`, the worst ones) only supply the evidence.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.diagnose.measures import endpoint, flow_label, pct, severity, weigh
from pcap_analyzer.report.model import AnalysisResult, Evidence, Finding, TcpConnection, TcpServer


def evidence(conns: Iterable[TcpConnection], cfg: AnalysisConfig, flag: str | None = None) -> Evidence:
    """Streams, flows and (flagged, or first) frame numbers behind a group of connections."""
    conns = list(conns)
    frames: list[int] = []
    for c in conns:
        picked = [p.frame for p in c.flagged if flag is None or flag in p.flags]
        frames.extend(picked or [c.first_frame])
    return Evidence(
        streams=sorted(c.stream for c in conns)[: cfg.max_evidence_frames],
        frames=sorted(set(frames))[: cfg.max_evidence_frames],
        flows=[flow_label(c) for c in conns[: cfg.max_evidence_frames]],
    )


def _by_server(
    conns: Iterable[TcpConnection], keep: Callable[[TcpConnection], bool]
) -> dict[str, list[TcpConnection]]:
    groups: dict[str, list[TcpConnection]] = defaultdict(list)
    for c in conns:
        if keep(c):
            groups[endpoint(c.server, c.server_port)].append(c)
    return groups


def _rate(x: float) -> str:
    """A percentage with the digits a small one needs (0.03, not 0.0)."""
    return f"{x:.1f}" if x >= 0.1 or x == 0 else f"{x:.2f}" if x >= 0.01 else "<0.01"


def _of(n: int, m: int, what: str) -> str:
    return f"{n:,} of {m:,} {what}"


def rto_share_pct(s: TcpServer) -> float:
    """Share (%) of the server's connection time spent waiting for retransmission timeouts (the union of
    the waiting periods per connection, so never more than the connection's life)."""
    return pct(s.rto_wait_ms, 1000.0 * s.connection_time_s)


def loss_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for s in result.tcp_servers:
        if s.retransmissions <= 0:
            continue
        loss = pct(s.retransmissions, s.data_segments)
        rto = rto_share_pct(s)
        title = (
            f"Transfers to {s.server} lost {_rate(loss)}% of segments "
            f"({_of(s.retransmissions, s.data_segments, 'resent')})"
        )
        if rto >= 1:
            title += f"; {rto:.0f}% of their connection time was spent waiting for retransmission timeouts"
        sev = severity(loss, cfg.retrans_warning_pct, cfg.retrans_critical_pct)
        if sev == "info" and rto >= cfg.rto_time_warning_pct:
            sev = "warning"
        sev, note = weigh(sev, s.retransmissions, s.data_segments, cfg)
        group = [c for c in result.connections if endpoint(c.server, c.server_port) == s.server]
        group = [c for c in group if c.retransmissions > 0]
        detail = (
            f"{_of(s.affected_connections, s.connections, 'connections')} to this server had "
            f"retransmissions ({s.rto_connections:,} waited for a timeout: "
            f"{s.rto_wait_ms / 1000:,.1f} s of {s.connection_time_s:,.1f} s of connection time). Packet loss "
            "on the path (or a congested queue) forces the sender to resend; timeouts stall the transfer "
            "completely. Check interface error/drop counters and queue drops along the path to this server."
            + note
        )
        out.append(
            Finding(
                id="tcp.loss",
                severity=sev,
                title=title,
                detail=detail,
                impact=min(30, 6 * loss) + min(15, 0.5 * rto),
                evidence=evidence(group, cfg, "retransmission"),
            )
        )
    return out


def zero_window_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    groups: dict[str, list[TcpConnection]] = defaultdict(list)
    for c in result.connections:
        if c.zero_windows <= 0:
            continue
        dirs = [p.direction for p in c.flagged if "zero_window" in p.flags]
        client_side = bool(dirs) and sum(dirs) * 2 < len(dirs)  # mostly direction 0: the client advertised it
        groups[c.client if client_side else c.server].append(c)
    out = []
    for receiver, group in groups.items():
        n = sum(c.zero_windows for c in group)
        sev, note = weigh("warning", n, cfg.min_sample_packets, cfg)
        out.append(
            Finding(
                id="tcp.zero_window",
                severity=sev,
                title=f"Receiver {receiver} advertised a zero window {n:,} times: the application is not "
                "reading fast enough",
                detail=f"Over {len(group):,} connection(s) the receiving application let its socket buffer "
                "fill up, so the sender had to stop. The bottleneck is the receiving host (CPU, disk, "
                "application), not the network." + note,
                impact=min(10, 2 * math.log2(1 + n)),
                evidence=evidence(group, cfg, "zero_window"),
            )
        )
    return out


def refused_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for s in result.tcp_servers:
        for n, kind in ((s.refused, "tcp.refused"), (s.never_answered, "tcp.unanswered_syn")):
            if n <= 0:
                continue
            share = pct(n, s.connections)
            sev, note = weigh("warning", n, s.connections, cfg)
            states = ("REJ",) if kind == "tcp.refused" else ("S0", "RSTOS0", "SH")
            group = [
                c
                for c in result.connections
                if endpoint(c.server, c.server_port) == s.server
                and c.state in states
                and c.handshake_ms is None
            ]
            if kind == "tcp.refused":
                title = f"{_of(n, s.connections, 'connection attempts')} to {s.server} were refused (RST)"
                detail = (
                    "The server answered SYN with RST: nothing listens on that port, or a firewall rejects "
                    "it. Check the service is running and bound to this address."
                )
            else:
                title = f"{_of(n, s.connections, 'connection attempts')} to {s.server} were never answered"
                detail = (
                    "SYNs got neither SYN/ACK nor RST: the host is down, unreachable, or a firewall drops "
                    "the traffic silently. Clients wait for their connect timeout."
                )
            out.append(
                Finding(
                    id=kind,
                    severity=sev,
                    title=title,
                    detail=detail + note,
                    impact=min(10, 2 + 0.5 * share),
                    evidence=evidence(group, cfg),
                )
            )
    return out


def reset_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    keep = lambda c: c.resets > 0 and c.state not in ("REJ", "S0")  # noqa: E731
    listed = _by_server(result.connections, keep)
    for s in result.tcp_servers:
        n = s.reset_connections
        if n <= 0:
            continue
        sev, note = weigh("warning", n, s.connections, cfg)
        out.append(
            Finding(
                id="tcp.reset",
                severity=sev,
                title=f"{_of(n, s.connections, 'established connections')} with {s.server} were reset",
                detail="A side aborted the connection with RST instead of closing it: an application error, "
                "a timeout in a proxy or load balancer, or a crash." + note,
                impact=min(5, 1 + 0.2 * pct(n, s.connections)),
                evidence=evidence(listed.get(s.server, []), cfg, "rst"),
            )
        )
    return out


def latency_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    conns = result.connections
    slow = lambda c: c.handshake_ms is not None and c.handshake_ms > cfg.slow_handshake_ms  # noqa: E731
    listed = _by_server(conns, slow)
    for s in result.tcp_servers:
        n = s.slow_handshakes
        if n <= 0:
            continue
        sev, note = weigh("warning", n, s.connections, cfg)
        out.append(
            Finding(
                id="tcp.slow_handshake",
                severity=sev,
                title=f"{_of(n, s.connections, 'handshakes')} with {s.server} took longer than "
                f"{cfg.slow_handshake_ms:g} ms (worst {s.worst_handshake_ms or 0:,.0f} ms)",
                detail="The SYN/ACK came late: a distant or overloaded server, a full accept queue, or a "
                "lost SYN that had to be retransmitted." + note,
                impact=min(10, 2 + 0.2 * pct(n, s.connections)),
                evidence=evidence(listed.get(s.server, []), cfg),
            )
        )
    for srv in result.tcp_servers:
        st = srv.rtt_ms
        if st.p95 is None or st.p95 <= cfg.high_rtt_ms:
            continue
        group = [
            c
            for c in conns
            if endpoint(c.server, c.server_port) == srv.server and (c.rtt_ms.p95 or 0.0) > cfg.high_rtt_ms
        ]
        sev, note = weigh("warning", st.count, st.count, cfg)
        out.append(
            Finding(
                id="tcp.high_rtt",
                severity=sev,
                title=f"Round-trip time to {srv.server} is high: ACK RTT p95 {st.p95:,.0f} ms over "
                f"{st.count:,} samples from {srv.connections:,} connections",
                detail="Long round trips slow every request and limit TCP throughput (window / RTT). Look "
                "for queueing (bufferbloat) or a long path." + note,
                impact=min(10, 5 * st.p95 / cfg.high_rtt_ms),
                evidence=evidence(group, cfg),
            )
        )
    return out


TCP_RULES = (loss_findings, zero_window_findings, refused_findings, reset_findings, latency_findings)
