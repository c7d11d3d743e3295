"""Derived measures (rates, shares) that both the health score and the findings use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.report.model import AnalysisResult, TcpConnection, UdpStream

# Responses that mean the server failed; NXDOMAIN is an answer, not a failure.
DNS_OK_RCODES = frozenset({"NOERROR", "NXDOMAIN", "0", "3"})


def pct(part: float, whole: float) -> float:
    """part / whole in percent, 0 when whole is 0."""
    return 100.0 * part / whole if whole > 0 else 0.0


def endpoint(addr: str, port: int) -> str:
    """`10.0.0.1:80` or `[2001:db8::1]:80`."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def flow_label(c: TcpConnection) -> str:
    """`client:port -> server:port` of a connection."""
    return f"{endpoint(c.client, c.client_port)} -> {endpoint(c.server, c.server_port)}"


def rto_share_pct(conns: Iterable[TcpConnection]) -> float:
    """Upper bound of the share (%) of the connections' time spent waiting for retransmission timeouts.

    A connection's `rto_time_ms` sums tcp.analysis.rto over its timeout-driven retransmissions; after
    one loss in a bulk transfer several resent segments wait at once, so the sum can exceed the
    connection's duration. It is capped at the duration per connection, which makes this an upper bound.
    """
    conns = list(conns)
    waited = sum(min(c.rto_time_ms, 1000.0 * c.duration_s) for c in conns)
    return pct(waited, 1000.0 * sum(c.duration_s for c in conns))


def data_segments_of(c: TcpConnection) -> int:
    """Data segments of a connection, recovered from its retransmission rate when it has one."""
    if c.retransmissions and c.retransmission_pct > 0:
        return max(1, round(c.retransmissions * 100.0 / c.retransmission_pct))
    return max(c.packets_ab, c.packets_ba)


@dataclass(slots=True)
class Measures:
    retransmissions: int = 0
    retrans_pct: float = 0.0
    rto_time_pct: float = 0.0
    zero_windows: int = 0
    attempts: int = 0
    refused: int = 0
    refused_pct: float = 0.0
    unanswered: int = 0
    unanswered_pct: float = 0.0
    aborted: int = 0
    aborted_pct: float = 0.0
    slow_handshakes: int = 0
    slow_handshake_pct: float = 0.0
    ack_rtt_p95_ms: float | None = None
    dns_unanswered_pct: float = 0.0
    dns_errors: int = 0
    dns_error_pct: float = 0.0
    jittery_streams: list[UdpStream] = field(default_factory=list)


def measure(result: AnalysisResult, cfg: AnalysisConfig) -> Measures:
    """Compute the rates the diagnosis rules compare with the configured thresholds."""
    tcp, conns = result.tcp, result.connections
    m = Measures(retransmissions=tcp.retransmissions, zero_windows=tcp.zero_windows)
    segments = tcp.data_segments or sum(data_segments_of(c) for c in conns)
    m.retrans_pct = pct(tcp.retransmissions, segments)
    m.rto_time_pct = rto_share_pct(conns)
    m.refused = tcp.refused_connections
    # unanswered_connections counts every SYN without SYN/ACK, refused ones (answered by RST) included
    m.unanswered = max(0, tcp.unanswered_connections - m.refused)
    m.attempts = max(tcp.syn - tcp.syn_retransmissions, tcp.unanswered_connections, 0)
    m.refused_pct = pct(m.refused, m.attempts)
    m.unanswered_pct = pct(m.unanswered, m.attempts)
    m.aborted = sum(1 for c in conns if c.resets and c.state not in ("REJ", "S0"))
    m.aborted_pct = pct(m.aborted, max(tcp.conversations, len(conns)))
    shakes = [c.handshake_ms for c in conns if c.handshake_ms is not None]
    m.slow_handshakes = sum(1 for h in shakes if h > cfg.slow_handshake_ms)
    m.slow_handshake_pct = pct(m.slow_handshakes, len(shakes))
    m.ack_rtt_p95_ms = tcp.ack_rtt_ms.p95
    dns = result.dns
    m.dns_unanswered_pct = pct(dns.unanswered, dns.queries)
    m.dns_errors = sum(n for code, n in dns.rcodes.items() if code.upper() not in DNS_OK_RCODES)
    m.dns_error_pct = pct(m.dns_errors, dns.responses)
    m.jittery_streams = [
        s
        for s in result.udp_streams
        if s.jitter_ms.mean is not None and s.jitter_ms.mean > cfg.jitter_warning_ms
    ]
    return m
