"""Health score: 100 minus capped penalties, each one a reason a person can read.

Formula (every penalty is capped; the score is max(0, round(100 - sum of penalties))):

| code | measure | penalty (cap) |
|---|---|---|
| tcp.retransmissions | retransmitted segments, % of TCP data segments | 6 x pct (30) |
| tcp.rto_time | % of connection time waiting for retransmission timeouts (upper bound) | 0.5 x pct (15) |
| tcp.zero_window | zero-window packets n | 2 x log2(1 + n) (10) |
| tcp.refused | % of connection attempts refused by RST | 0.5 x pct (10) |
| tcp.unanswered_syn | % of connection attempts never answered | 0.5 x pct (10) |
| tcp.resets | RST packets on established connections, % of connections | 0.2 x pct (5) |
| tcp.slow_handshake | % of handshakes slower than slow_handshake_ms | 0.2 x pct (10) |
| tcp.high_rtt | ACK RTT p95 r above high_rtt_ms t | 5 x r / t (10) |
| dns.unanswered | % of DNS queries unanswered | 3 x pct (15) |
| dns.errors | % of DNS responses with SERVFAIL/REFUSED/... (not NXDOMAIN) | 1 x pct (5) |
| dns.slow | DNS response p95 r above dns_slow_ms t | 3 x r / t (10) |
| udp.jitter | UDP streams with mean jitter above jitter_warning_ms | 3 per stream (10) |
| capture.truncated | the capture is cut or damaged | 5 (5) |
"""

from __future__ import annotations

import math

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.diagnose.measures import Measures, measure
from pcap_analyzer.report.model import AnalysisResult, Health, HealthReason


def _reason(code: str, message: str, penalty: float, cap: float) -> HealthReason | None:
    p = min(cap, penalty)
    if p <= 0.05:
        return None
    return HealthReason(code=code, message=message, penalty=round(p, 1))


def _tcp_reasons(m: Measures, cfg: AnalysisConfig) -> list[HealthReason | None]:
    out: list[HealthReason | None] = []
    if m.retrans_pct > 0:
        out.append(
            _reason(
                "tcp.retransmissions",
                f"{m.retransmissions} TCP retransmissions ({m.retrans_pct:.2f}% of data segments)",
                6 * m.retrans_pct,
                30,
            )
        )
    if m.rto_time_pct > 0:
        out.append(
            _reason(
                "tcp.rto_time",
                f"up to {m.rto_time_pct:.1f}% of connection time spent waiting for retransmission timeouts",
                0.5 * m.rto_time_pct,
                15,
            )
        )
    if m.zero_windows:
        out.append(
            _reason(
                "tcp.zero_window",
                f"{m.zero_windows} zero-window advertisements",
                2 * math.log2(1 + m.zero_windows),
                10,
            )
        )
    if m.refused:
        out.append(
            _reason(
                "tcp.refused",
                f"{m.refused} of {m.attempts} connection attempts refused (RST)",
                0.5 * m.refused_pct,
                10,
            )
        )
    if m.unanswered:
        out.append(
            _reason(
                "tcp.unanswered_syn",
                f"{m.unanswered} of {m.attempts} connection attempts never answered",
                0.5 * m.unanswered_pct,
                10,
            )
        )
    if m.aborted:
        out.append(
            _reason(
                "tcp.resets",
                f"{m.aborted} connections reset after they were established",
                0.2 * m.aborted_pct,
                5,
            )
        )
    if m.slow_handshakes:
        out.append(
            _reason(
                "tcp.slow_handshake",
                f"{m.slow_handshakes} handshakes slower than {cfg.slow_handshake_ms:g} ms",
                0.2 * m.slow_handshake_pct,
                10,
            )
        )
    p95 = m.ack_rtt_p95_ms
    if p95 is not None and p95 > cfg.high_rtt_ms:
        out.append(
            _reason(
                "tcp.high_rtt",
                f"ACK RTT p95 is {p95:.0f} ms (threshold {cfg.high_rtt_ms:g} ms)",
                5 * p95 / cfg.high_rtt_ms,
                10,
            )
        )
    return out


def _other_reasons(result: AnalysisResult, m: Measures, cfg: AnalysisConfig) -> list[HealthReason | None]:
    out: list[HealthReason | None] = []
    dns = result.dns
    if dns.unanswered:
        out.append(
            _reason(
                "dns.unanswered",
                f"{dns.unanswered} of {dns.queries} DNS queries unanswered",
                3 * m.dns_unanswered_pct,
                15,
            )
        )
    if m.dns_errors:
        out.append(
            _reason(
                "dns.errors",
                f"{m.dns_errors} DNS error responses (SERVFAIL, REFUSED, ...)",
                m.dns_error_pct,
                5,
            )
        )
    p95 = dns.response_time_ms.p95
    if p95 is not None and p95 > cfg.dns_slow_ms:
        out.append(
            _reason(
                "dns.slow",
                f"DNS response time p95 is {p95:.0f} ms (threshold {cfg.dns_slow_ms:g} ms)",
                3 * p95 / cfg.dns_slow_ms,
                10,
            )
        )
    if m.jittery_streams:
        out.append(
            _reason(
                "udp.jitter",
                f"{len(m.jittery_streams)} UDP streams with mean jitter above {cfg.jitter_warning_ms:g} ms",
                3 * len(m.jittery_streams),
                10,
            )
        )
    if result.capture.truncated:
        out.append(
            _reason(
                "capture.truncated", "the capture is cut or damaged: figures cover what was readable", 5, 5
            )
        )
    return out


def health_score(result: AnalysisResult, cfg: AnalysisConfig, m: Measures | None = None) -> Health:
    """Score the analysed capture (0-100) and list the reasons that lowered it, largest first.

    Example:
        >>> health_score(result, AnalysisConfig()).score
    """
    m = m or measure(result, cfg)
    reasons = [r for r in _tcp_reasons(m, cfg) + _other_reasons(result, m, cfg) if r is not None]
    reasons.sort(key=lambda r: -r.penalty)
    score = max(0, round(100 - sum(r.penalty for r in reasons)))
    return Health(score=score, reasons=reasons)
