"""Ranked findings: TCP rules (rules.py) plus DNS, UDP and capture-level rules, most impact first.

Order: severity (critical, warning, info), then impact. Severity needs evidence (see `measures.weigh`):
too few bad events keep a finding at info, a rate over a small sample is never critical.
"""

from __future__ import annotations

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.diagnose.capture_rules import CAPTURE_RULES
from pcap_analyzer.diagnose.health import health_score
from pcap_analyzer.diagnose.measures import DNS_OK_RCODES, SEVERITY_RANK, pct, weigh
from pcap_analyzer.diagnose.rules import TCP_RULES
from pcap_analyzer.diagnose.rules_http import HTTP_RULES
from pcap_analyzer.diagnose.rules_icmp import ICMP_RULES
from pcap_analyzer.diagnose.rules_tls import TLS_RULES
from pcap_analyzer.report.model import AnalysisResult, DnsServer, Evidence, Finding, Health


def _dns_unanswered(result: AnalysisResult, s: DnsServer, cfg: AnalysisConfig) -> list[Finding]:
    if not s.unanswered:
        return []
    frames = [q.frame for q in result.dns.unanswered_queries if q.server == s.server]
    share = pct(s.unanswered, s.queries)
    sev, note = weigh("critical" if share >= 5 else "warning", s.unanswered, s.queries, cfg)
    detail = (
        f"No answer within {cfg.dns_timeout_s:g} s (dns_timeout_s). Each unanswered query costs the client "
        "its resolver timeout (often 1-5 s) before it retries. Check the server's load and reachability, "
        "or configure a second resolver."
    )
    if s.pending_at_end:
        detail += (
            f" {s.pending_at_end:,} more queries were sent less than {cfg.dns_timeout_s:g} s before the "
            "capture ended: no answer seen before the capture ended, not counted as unanswered."
        )
    return [
        Finding(
            id="dns.unanswered",
            severity=sev,
            title=f"DNS server {s.server} left {s.unanswered:,} of {s.queries:,} queries unanswered "
            f"({share:.1f}%)",
            detail=detail + note,
            impact=min(15, 3 * share),
            evidence=Evidence(frames=frames[: cfg.max_evidence_frames], flows=[f"* -> {s.server}:53"]),
        )
    ]


def _dns_errors(result: AnalysisResult, s: DnsServer, cfg: AnalysisConfig) -> list[Finding]:
    failures = sum(n for code, n in result.dns.rcodes.items() if code.upper() not in DNS_OK_RCODES)
    if not (s.errors and failures):
        return []
    frames = [
        q.frame for q in result.dns.error_responses if q.server == s.server and q.rcode not in DNS_OK_RCODES
    ]
    codes = ", ".join(f"{n:,} {c}" for c, n in sorted(result.dns.rcodes.items()) if c != "NOERROR")
    sev, note = weigh("warning", s.errors, s.queries, cfg)
    return [
        Finding(
            id="dns.errors",
            severity=sev,
            title=f"DNS server {s.server} answered {s.errors:,} of {s.queries:,} queries with an error "
            f"({codes})",
            detail="SERVFAIL, REFUSED and similar answers mean the resolver or an upstream server is "
            "failing; clients may fall back to another resolver or fail the request." + note,
            impact=min(5, pct(s.errors, s.queries)),
            evidence=Evidence(frames=frames[: cfg.max_evidence_frames], flows=[f"* -> {s.server}:53"]),
        )
    ]


def _dns_slow(result: AnalysisResult, s: DnsServer, cfg: AnalysisConfig) -> list[Finding]:
    """The tail, not only the p95: any answers over dns_slow_ms make a finding (info while they are a
    small share; a warning when the p95 itself is over the threshold)."""
    st = s.response_time_ms
    if not s.slow_answers or st.p95 is None:
        return []
    answered = st.count
    over = st.p95 > cfg.dns_slow_ms
    sev, note = weigh("warning" if over else "info", s.slow_answers, answered, cfg)
    frames = [q.frame for q in result.dns.slowest_queries if q.server == s.server]
    return [
        Finding(
            id="dns.slow",
            severity=sev,
            title=f"DNS server {s.server} answered {s.slow_answers:,} of {answered:,} queries slower than "
            f"{cfg.dns_slow_ms:g} ms (p95 {st.p95:,.0f} ms, slowest {st.max or 0:,.0f} ms)",
            detail=f"Responses slower than {cfg.dns_slow_ms:g} ms delay every new connection that needs a "
            "name lookup. Check the resolver's cache hit rate and upstream latency." + note,
            impact=min(10, 3 * st.p95 / cfg.dns_slow_ms) if over else 1.0,
            evidence=Evidence(frames=frames[: cfg.max_evidence_frames], flows=[f"* -> {s.server}:53"]),
        )
    ]


def _dns_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for s in result.dns.servers:
        out += _dns_unanswered(result, s, cfg) + _dns_errors(result, s, cfg) + _dns_slow(result, s, cfg)
    d = result.dns
    if d.pending_at_end and not d.unanswered:
        out.append(
            Finding(
                id="dns.pending_at_end",
                severity="info",
                title=f"{d.pending_at_end:,} DNS queries had no answer seen before the capture ended",
                detail=f"They were sent less than {cfg.dns_timeout_s:g} s (dns_timeout_s) before the last "
                "packet: their answers may simply not have been captured. They are not counted as "
                "unanswered.",
                impact=0.0,
            )
        )
    n = d.rcodes.get("NXDOMAIN", 0)
    if n:
        frames = [q.frame for q in d.error_responses if q.rcode == "NXDOMAIN"]
        out.append(
            Finding(
                id="dns.nxdomain",
                severity="info",
                title=f"{n:,} DNS queries ({pct(n, d.responses):.1f}% of responses) were for names that do "
                "not exist (NXDOMAIN)",
                detail="Usually harmless, but many NXDOMAIN answers point at a typo in a configuration, "
                "search-domain suffixing, or a removed service that clients still look up.",
                impact=0.5,
                evidence=Evidence(frames=frames[: cfg.max_evidence_frames]),
            )
        )
    return out


def _other_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for s in result.udp_streams:
        mean = s.jitter_ms.mean
        if mean is None or mean <= cfg.jitter_warning_ms:
            continue
        sev, note = weigh("warning", s.packets, s.packets, cfg)
        out.append(
            Finding(
                id="udp.jitter",
                severity=sev,
                title=f"UDP stream {s.src}:{s.src_port} -> {s.dst}:{s.dst_port} has {mean:.1f} ms mean "
                "jitter",
                detail="Variable delay hurts voice and video; look for congested links or missing QoS."
                + note,
                impact=min(10, 3 * mean / cfg.jitter_warning_ms),
                evidence=Evidence(
                    frames=[s.first_frame], flows=[f"{s.src}:{s.src_port} -> {s.dst}:{s.dst_port}"]
                ),
            )
        )
    if result.gaps:
        longest = max(result.gaps, key=lambda g: g.duration_s)
        out.append(
            Finding(
                id="traffic.gap",
                severity="info",
                title=f"{len(result.gaps):,} silence(s) longer than {cfg.gap_threshold_s:g} s in the capture "
                f"(longest {longest.duration_s:,.1f} s)",
                detail="No packet at all was captured for a while: an outage, a stalled application, or a "
                "gap in the capture itself.",
                impact=1.0,
                evidence=Evidence(frames=[g.after_frame for g in result.gaps][: cfg.max_evidence_frames]),
            )
        )
    cap = result.capture
    if cap.truncated:
        out.append(
            Finding(
                id="capture.truncated",
                severity="warning",
                title=f"The capture is cut or damaged after {cap.packets:,} packets",
                detail="; ".join(w.reason for w in cap.warnings[:3]) or "Reading stopped early.",
                impact=5.0,
            )
        )
    return out


def diagnose(result: AnalysisResult, cfg: AnalysisConfig) -> tuple[Health, list[Finding]]:
    """Health score and ranked findings for an AnalysisResult whose measurements are filled in; the
    health reasons are the warning/critical findings, in the same order with the same titles.

    Example:
        >>> health, findings = diagnose(result, AnalysisConfig())
    """
    findings: list[Finding] = []
    for rule in TCP_RULES + CAPTURE_RULES + TLS_RULES + ICMP_RULES + HTTP_RULES:
        findings.extend(rule(result, cfg))
    findings.extend(_dns_findings(result, cfg))
    findings.extend(_other_findings(result, cfg))
    findings.sort(key=lambda f: (SEVERITY_RANK.get(f.severity, 3), -f.impact))
    findings = findings[: cfg.max_findings]
    for f in findings:
        f.impact = round(f.impact, 2)
    return health_score(result, findings), findings
