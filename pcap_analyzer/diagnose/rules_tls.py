"""TLS diagnosis rules: handshakes aborted by alerts, and slow ServerHellos, per server."""

from __future__ import annotations

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.diagnose.measures import pct, weigh
from pcap_analyzer.report.model import AnalysisResult, Evidence, Finding
from pcap_analyzer.report.model_tls import TlsHandshake

# What an aborting alert usually means, for the finding's advice (RFC 8446 section 6.2 wording, shortened).
_ADVICE = {
    "unknown_ca": "the client does not trust the certificate authority that signed the server's "
    "certificate: install the missing intermediate on the server, or the CA on the clients",
    "bad_certificate": "a certificate was corrupt or its signature did not verify",
    "certificate_expired": "a certificate has expired: renew it",
    "certificate_unknown": "a certificate was refused for another reason (name, usage, chain)",
    "handshake_failure": "client and server share no acceptable cipher suite or parameters",
    "protocol_version": "client and server support no common TLS version",
    "unrecognized_name": "the server has no certificate for the name the client asked for (SNI)",
    "no_application_protocol": "client and server share no application protocol (ALPN)",
    "certificate_required": "the server asked for a client certificate and got none",
    "internal_error": "one side failed internally during the handshake",
}


def _weigh(sev: str, events: int, cfg: AnalysisConfig) -> tuple[str, str]:
    """The evidence rule on handshakes: fewer than min_evidence_events keep a finding at info (a handshake
    is one event, not a packet sample, so min_sample_packets does not apply)."""
    return weigh(sev, events, cfg.min_sample_packets, cfg)


def _evidence(rows: list[TlsHandshake], cfg: AnalysisConfig, failed: bool) -> Evidence:
    rows = rows[: cfg.max_evidence_frames]
    return Evidence(
        streams=sorted(r.stream for r in rows),
        frames=sorted(
            (r.alert_frame or r.client_hello_frame) if failed else r.client_hello_frame for r in rows
        ),
        flows=[f"{r.client}:{r.client_port} -> {r.server}:{r.server_port}" for r in rows],
    )


def alert_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for s in result.tls.servers:
        for alert, n in sorted(s.failures.items(), key=lambda kv: -kv[1]):
            rows = [r for r in result.tls.failures if r.server_key == s.server and r.alert == alert]
            sides = {r.alert_from for r in rows}
            who = f" (sent by the {sides.pop()})" if len(sides) == 1 else ""
            sev, note = _weigh("critical" if pct(n, s.handshakes) >= 50 else "warning", n, cfg)
            advice = _ADVICE.get(alert, "see RFC 8446 section 6.2 for what this alert means")
            out.append(
                Finding(
                    id="tls.alert",
                    severity=sev,
                    title=f"{n:,} of {s.handshakes:,} TLS handshakes to {s.server} failed with alert "
                    f"{alert}{who}",
                    detail=f"The handshake was aborted before any application data could flow: {advice}."
                    + note,
                    impact=min(10, 2 + 0.1 * pct(n, s.handshakes) + n / 10),
                    evidence=_evidence(rows, cfg, failed=True),
                )
            )
    return out


def slow_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    slow_rows = [r for r in result.tls.slowest if (r.hello_ms or 0) > cfg.tls_slow_handshake_ms]
    for s in result.tls.servers:
        st = s.hello_ms
        if not s.slow or st.count == 0:
            continue
        over = (st.median or 0) > cfg.tls_slow_handshake_ms
        sev, note = _weigh("warning" if over else "info", s.slow, cfg)
        out.append(
            Finding(
                id="tls.slow_handshake",
                severity=sev,
                title=f"{s.slow:,} of {st.count:,} TLS handshakes to {s.server} waited more than "
                f"{cfg.tls_slow_handshake_ms:g} ms for the ServerHello (median {st.median or 0:,.0f} ms, "
                f"worst {st.max or 0:,.0f} ms)",
                detail="The server (or something in front of it) took long to answer the ClientHello: an "
                "overloaded TLS terminator, slow key operations, or a long network path; compare with the "
                "TCP round-trip time to that server." + note,
                impact=min(10, 1 + 3 * (st.median or 0) / cfg.tls_slow_handshake_ms),
                evidence=_evidence([r for r in slow_rows if r.server_key == s.server], cfg, failed=False),
            )
        )
    return out


TLS_RULES = (alert_findings, slow_findings)
