"""Health score: 100 minus the penalties of the warning and critical findings, in the findings' order.

The score and the findings agree by construction: every reason is one finding (same code, same title,
same order), and its penalty is the finding's impact, capped per kind so that many servers with the same
problem cannot take more than the kind's share:

| kind | impact of one finding | cap per kind |
|---|---|---|
| tcp.loss | 6 x loss % (max 30) + 0.5 x % of connection time waiting for timeouts (max 15) | 40 |
| tcp.zero_window | 2 x log2(1 + zero-window packets) (max 10) | 10 |
| tcp.refused, tcp.unanswered_syn | 2 + 0.5 x % of the server's connection attempts (max 10) | 10 each |
| tcp.reset | 1 + 0.2 x % of the server's connections (max 5) | 5 |
| tcp.slow_handshake | 2 + 0.2 x % of the server's handshakes (max 10) | 10 |
| tcp.high_rtt | 5 x RTT p95 / high_rtt_ms (max 10) | 10 |
| dns.unanswered | 3 x % of the server's queries (max 15) | 15 |
| dns.errors | % of the server's queries (max 5) | 5 |
| dns.slow | 3 x p95 / dns_slow_ms (max 10) when p95 is over dns_slow_ms, else 1 | 10 |
| udp.jitter | 3 x mean jitter / jitter_warning_ms (max 10) | 10 |
| capture.truncated | 5 | 5 |
| capture.not_analysed | % of packets not analysed / 2 (a warning from 50 %) | 50 |

Info findings (small samples, too few events, harmless facts) do not lower the score. A capture with no
packet has no score (None): there is nothing to judge.
"""

from __future__ import annotations

from pcap_analyzer.report.model import AnalysisResult, Finding, Health, HealthReason

PENALTY_CAPS = {
    "tcp.loss": 40.0,
    "tcp.zero_window": 10.0,
    "tcp.refused": 10.0,
    "tcp.unanswered_syn": 10.0,
    "tcp.reset": 5.0,
    "tcp.slow_handshake": 10.0,
    "tcp.high_rtt": 10.0,
    "dns.unanswered": 15.0,
    "dns.errors": 5.0,
    "dns.slow": 10.0,
    "udp.jitter": 10.0,
    "capture.truncated": 5.0,
    "capture.not_analysed": 50.0,
}
NOTHING_TO_JUDGE = "nothing to judge: the capture holds no packet"


def health_score(result: AnalysisResult, findings: list[Finding]) -> Health:
    """Score the analysed capture (0-100) from its ranked findings; None when it holds no packet.

    Example:
        >>> health_score(result, findings).score
    """
    if result.capture.packets == 0:
        return Health(score=None, note=NOTHING_TO_JUDGE)
    used: dict[str, float] = {}
    reasons = []
    for f in findings:
        if f.severity == "info":
            continue
        cap = PENALTY_CAPS.get(f.id, 10.0)
        p = min(f.impact, cap - used.get(f.id, 0.0))
        if p <= 0.05:
            continue
        used[f.id] = used.get(f.id, 0.0) + p
        reasons.append(HealthReason(code=f.id, message=f.title, penalty=round(p, 1)))
    score = max(0, round(100 - sum(r.penalty for r in reasons)))
    return Health(score=score, reasons=reasons)
