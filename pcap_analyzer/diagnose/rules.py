"""TCP diagnosis rules: connection rows to findings grouped by the server (or receiver) at fault."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.diagnose.measures import data_segments_of, endpoint, flow_label, pct, rto_share_pct
from pcap_analyzer.report.model import Evidence, Finding, TcpConnection


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


def _severity(value: float, warning: float, critical: float) -> str:
    return "critical" if value >= critical else "warning" if value >= warning else "info"


def loss_findings(conns: list[TcpConnection], cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for server, group in _by_server(conns, lambda c: c.retransmissions > 0).items():
        retrans = sum(c.retransmissions for c in group)
        loss = pct(retrans, sum(data_segments_of(c) for c in group))
        rto_share = rto_share_pct(group)
        title = f"Transfers to {server} lost {loss:.1f}% of segments"
        if rto_share >= 1:
            title += (
                f"; up to {rto_share:.0f}% of their duration was spent waiting for retransmission timeouts"
            )
        sev = _severity(loss, cfg.retrans_warning_pct, cfg.retrans_critical_pct)
        if sev == "info" and rto_share >= cfg.rto_time_warning_pct:
            sev = "warning"
        detail = (
            f"{retrans} retransmissions over {len(group)} connection(s). Packet loss on the path (or a "
            "congested queue) forces the sender to resend; timeouts stall the transfer completely. "
            "Check interface error/drop counters and queue drops along the path to this server."
        )
        out.append(
            Finding(
                id="tcp.loss",
                severity=sev,
                title=title,
                detail=detail,
                impact=min(30, 6 * loss) + min(30, 0.5 * rto_share),
                evidence=evidence(group, cfg, "retransmission"),
            )
        )
    return out


def zero_window_findings(conns: list[TcpConnection], cfg: AnalysisConfig) -> list[Finding]:
    groups: dict[str, list[TcpConnection]] = defaultdict(list)
    for c in conns:
        if c.zero_windows <= 0:
            continue
        dirs = [p.direction for p in c.flagged if "zero_window" in p.flags]
        client_side = bool(dirs) and sum(dirs) * 2 < len(dirs)  # mostly direction 0: the client advertised it
        groups[c.client if client_side else c.server].append(c)
    out = []
    for receiver, group in groups.items():
        n = sum(c.zero_windows for c in group)
        out.append(
            Finding(
                id="tcp.zero_window",
                severity="warning" if n >= 5 else "info",
                title=f"Receiver {receiver} advertised a zero window {n} times: the application is not "
                f"reading "
                "fast enough",
                detail=f"Over {len(group)} connection(s) the receiving application let its socket buffer "
                f"fill up, "
                "so the sender had to stop. The bottleneck is the receiving host (CPU, disk, application), "
                "not the network.",
                impact=min(20, 3 + n / 10),
                evidence=evidence(group, cfg, "zero_window"),
            )
        )
    return out


def refused_findings(conns: list[TcpConnection], cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for server, group in _by_server(conns, lambda c: c.state == "REJ").items():
        out.append(
            Finding(
                id="tcp.refused",
                severity="warning",
                title=f"{len(group)} connection attempts to {server} were refused (RST)",
                detail="The server answered SYN with RST: nothing listens on that port, or a firewall "
                "rejects it. "
                "Check the service is running and bound to this address.",
                impact=min(20, 2 + len(group) / 2),
                evidence=evidence(group, cfg),
            )
        )
    for server, group in _by_server(conns, lambda c: c.state == "S0").items():
        out.append(
            Finding(
                id="tcp.unanswered_syn",
                severity="warning",
                title=f"{len(group)} connection attempts to {server} were never answered",
                detail="SYNs got no SYN/ACK: the host is down, unreachable, or a firewall drops the traffic "
                "silently. Clients wait for their connect timeout.",
                impact=min(25, 3 + len(group)),
                evidence=evidence(group, cfg),
            )
        )
    return out


def reset_findings(conns: list[TcpConnection], cfg: AnalysisConfig) -> list[Finding]:
    out = []
    keep = lambda c: c.resets > 0 and c.state not in ("REJ", "S0")  # noqa: E731
    for server, group in _by_server(conns, keep).items():
        out.append(
            Finding(
                id="tcp.reset",
                severity="info" if len(group) < 5 else "warning",
                title=f"{len(group)} established connection(s) with {server} were reset",
                detail="A side aborted the connection with RST instead of closing it: an application "
                "error, a "
                "timeout in a proxy or load balancer, or a crash.",
                impact=min(10, 1 + len(group) / 5),
                evidence=evidence(group, cfg, "rst"),
            )
        )
    return out


def latency_findings(conns: list[TcpConnection], cfg: AnalysisConfig) -> list[Finding]:
    out = []
    slow = lambda c: c.handshake_ms is not None and c.handshake_ms > cfg.slow_handshake_ms  # noqa: E731
    for server, group in _by_server(conns, slow).items():
        worst = max(c.handshake_ms or 0.0 for c in group)
        out.append(
            Finding(
                id="tcp.slow_handshake",
                severity="warning",
                title=f"{len(group)} handshake(s) with {server} took longer than "
                f"{cfg.slow_handshake_ms:g} ms "
                f"(worst {worst:.0f} ms)",
                detail="The SYN/ACK came late: a distant or overloaded server, a full accept queue, or a "
                "lost SYN "
                "that had to be retransmitted.",
                impact=min(15, 2 + len(group)),
                evidence=evidence(group, cfg),
            )
        )
    high = lambda c: c.rtt_ms.p95 is not None and c.rtt_ms.p95 > cfg.high_rtt_ms  # noqa: E731
    for server, group in _by_server(conns, high).items():
        worst = max(c.rtt_ms.p95 or 0.0 for c in group)
        out.append(
            Finding(
                id="tcp.high_rtt",
                severity="warning",
                title=f"Round-trip time to {server} is high: ACK RTT p95 up to {worst:.0f} ms over "
                f"{len(group)} connection(s)",
                detail="Long round trips slow every request and limit TCP throughput (window / RTT). "
                "Look for "
                "queueing (bufferbloat) or a long path.",
                impact=min(15, 5 * worst / cfg.high_rtt_ms),
                evidence=evidence(group, cfg),
            )
        )
    return out


TCP_RULES = (loss_findings, zero_window_findings, refused_findings, reset_findings, latency_findings)
