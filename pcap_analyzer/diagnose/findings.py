"""Ranked findings: TCP rules (rules.py) plus DNS, UDP and capture-level rules, most impact first."""

from __future__ import annotations

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.diagnose.health import health_score
from pcap_analyzer.diagnose.measures import DNS_OK_RCODES, Measures, measure, pct
from pcap_analyzer.diagnose.rules import TCP_RULES
from pcap_analyzer.report.model import AnalysisResult, Evidence, Finding, Health

# A query this close to the end of the capture may have been answered after the capture stopped.
_DNS_GRACE_S = 2.0
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def _dns_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for s in result.dns.servers:
        if s.unanswered:
            missing = [q for q in result.dns.unanswered_queries if q.server == s.server]
            frames = [q.frame for q in missing]
            share = pct(s.unanswered, s.queries)
            detail = (
                "Each unanswered query costs the client its resolver timeout (often 1-5 s) before it "
                "retries. Check the server's load and reachability, or configure a second resolver."
            )
            end = result.capture.last_ts
            late = sum(1 for q in missing if end is not None and q.ts >= end - _DNS_GRACE_S)
            if late:
                detail += (
                    f" {late} of the listed queries were sent in the last {_DNS_GRACE_S:g} s of the capture: "
                    "their answers may simply not have been captured."
                )
            out.append(
                Finding(
                    id="dns.unanswered",
                    severity="critical" if share >= 5 else "warning",
                    title=f"DNS server {s.server} left {s.unanswered} of {s.queries} queries unanswered",
                    detail=detail,
                    impact=min(25, 3 + 3 * share),
                    evidence=Evidence(
                        frames=frames[: cfg.max_evidence_frames], flows=[f"* -> {s.server}:53"]
                    ),
                )
            )
        failures = sum(n for code, n in result.dns.rcodes.items() if code.upper() not in DNS_OK_RCODES)
        if s.errors and failures:
            frames = [
                q.frame
                for q in result.dns.error_responses
                if q.server == s.server and q.rcode not in DNS_OK_RCODES
            ]
            codes = ", ".join(f"{n} {c}" for c, n in sorted(result.dns.rcodes.items()) if c != "NOERROR")
            out.append(
                Finding(
                    id="dns.errors",
                    severity="warning",
                    title=f"DNS server {s.server} answered {s.errors} queries with an error ({codes})",
                    detail="SERVFAIL, REFUSED and similar answers mean the resolver or an upstream server is "
                    "failing; clients may fall back to another resolver or fail the request.",
                    impact=min(10, 1 + pct(s.errors, s.queries)),
                    evidence=Evidence(
                        frames=frames[: cfg.max_evidence_frames], flows=[f"* -> {s.server}:53"]
                    ),
                )
            )
        p95 = s.response_time_ms.p95
        if p95 is not None and p95 > cfg.dns_slow_ms:
            frames = [q.frame for q in result.dns.slowest_queries if q.server == s.server]
            out.append(
                Finding(
                    id="dns.slow",
                    severity="warning",
                    title=f"DNS server {s.server} is slow: p95 response time {p95:.0f} ms",
                    detail=f"Responses slower than {cfg.dns_slow_ms:g} ms delay every new connection "
                    f"that needs a "
                    "name lookup. Check the resolver's cache hit rate and upstream latency.",
                    impact=min(15, 3 * p95 / cfg.dns_slow_ms),
                    evidence=Evidence(
                        frames=frames[: cfg.max_evidence_frames], flows=[f"* -> {s.server}:53"]
                    ),
                )
            )
    return out


def _nxdomain_finding(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    n = result.dns.rcodes.get("NXDOMAIN", 0)
    if not n:
        return []
    frames = [q.frame for q in result.dns.error_responses if q.rcode == "NXDOMAIN"]
    return [
        Finding(
            id="dns.nxdomain",
            severity="info",
            title=f"{n} DNS queries ({pct(n, result.dns.responses):.1f}% of responses) were for names that "
            "do not exist (NXDOMAIN)",
            detail="Usually harmless, but many NXDOMAIN answers point at a typo in a configuration, search-"
            "domain suffixing, or a removed service that clients still look up.",
            impact=0.5,
            evidence=Evidence(frames=frames[: cfg.max_evidence_frames]),
        )
    ]


def _other_findings(result: AnalysisResult, m: Measures, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for s in m.jittery_streams:
        out.append(
            Finding(
                id="udp.jitter",
                severity="warning",
                title=f"UDP stream {s.src}:{s.src_port} -> {s.dst}:{s.dst_port} has "
                f"{s.jitter_ms.mean:.1f} ms "
                "mean jitter",
                detail="Variable delay hurts voice and video; look for congested links or missing QoS.",
                impact=min(10, 3 * (s.jitter_ms.mean or 0) / cfg.jitter_warning_ms),
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
                title=f"{len(result.gaps)} silence(s) longer than {cfg.gap_threshold_s:g} s in the capture "
                f"(longest {longest.duration_s:.1f} s)",
                detail="No packet at all was captured for a while: an outage, a stalled application, or "
                "a gap in "
                "the capture itself.",
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
                title=f"The capture is cut or damaged after {cap.packets} packets",
                detail="; ".join(w.reason for w in cap.warnings[:3]) or "Reading stopped early.",
                impact=5.0,
            )
        )
    return out


def diagnose(result: AnalysisResult, cfg: AnalysisConfig) -> tuple[Health, list[Finding]]:
    """Health score and ranked findings for an AnalysisResult whose measurements are filled in.

    Example:
        >>> health, findings = diagnose(result, AnalysisConfig())
    """
    m = measure(result, cfg)
    findings: list[Finding] = []
    for rule in TCP_RULES:
        findings.extend(rule(result.connections, cfg))
    findings.extend(_dns_findings(result, cfg))
    findings.extend(_nxdomain_finding(result, cfg))
    findings.extend(_other_findings(result, m, cfg))
    findings.sort(key=lambda f: (_SEVERITY_RANK.get(f.severity, 3), -f.impact))
    for f in findings:
        f.impact = round(f.impact, 2)
    return health_score(result, cfg, m), findings[: cfg.max_findings]
