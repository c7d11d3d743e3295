"""HTTP and application-latency rules: where a server's response time goes, stalls, server errors.

A server needs `http_min_requests` exchanges before its breakdown can make a warning (fewer stay at info,
saying so); a breakdown makes a finding only when its median response (request -> last byte) is slower
than `http_slow_ms`, or when retransmission timeouts or zero windows take a large share of its time.
"""

from __future__ import annotations

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.diagnose.measures import pct
from pcap_analyzer.report.model import AnalysisResult, Evidence, Finding
from pcap_analyzer.report.model_http import LatencyServer

STALL_WARNING_PCT = 20.0  # share of a server's exchange time spent in RTO waits or zero windows
SERVER_ERROR_WARNING_PCT = 5.0

_PART = {
    "server": ("server time (waiting for the first byte of the answer)",
               "The server (or what it waits on: a database, an upstream service) is slow to start "
               "answering; the network is not the cause. Look at the application's own timings."),
    "network": ("network round-trip time",
                "The round trip itself dominates: a long path, queueing on a congested link, or a chatty "
                "exchange that pays the RTT many times. Move the client closer or batch requests."),
    "transfer": ("transfer time (first to last byte of the answer)",
                 "The answers take long to arrive once they start: large bodies over a slow or lossy "
                 "path, a small receive window, or a server that writes its answer in pieces."),
}


def _dur(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:,.1f} s"
    if ms >= 10:
        return f"{ms:,.0f} ms"
    return f"{ms:.1f} ms" if ms >= 1 else f"{ms:.2f} ms" if ms >= 0.01 else "< 0.01 ms"


def _evidence(s: LatencyServer, cfg: AnalysisConfig) -> Evidence:
    return Evidence(streams=s.streams[: cfg.max_evidence_frames], frames=s.frames[: cfg.max_evidence_frames])


def _few(s: LatencyServer, cfg: AnalysisConfig) -> tuple[str, str]:
    if s.requests >= cfg.http_min_requests:
        return "warning", ""
    return "info", (f" Kept at info: {s.requests:,} exchange{'s' if s.requests != 1 else ''}, fewer than the "
                    f"{cfg.http_min_requests:,} needed for a warning (http_min_requests).")


def latency_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for s in result.latency_breakdown:
        if not s.dominant or s.total_ms < cfg.http_slow_ms:
            continue
        part, advice = _PART[s.dominant]
        share = pct({"network": s.network_ms, "server": s.server_ms, "transfer": s.transfer_ms}[s.dominant],
                    s.network_ms + s.server_ms + s.transfer_ms)
        sev, note = _few(s, cfg)
        out.append(Finding(
            id=f"latency.{s.dominant}",
            severity=sev,
            title=f"{s.server}: {share:.0f}% of the {_dur(s.total_ms)} median response is {part}; "
            f"the network RTT is {_dur(s.network_ms)}",
            detail=f"Over {s.requests:,} {s.kind.upper()} exchanges, medians: network {_dur(s.network_ms)}, "
            f"server {_dur(s.server_ms)}, transfer {_dur(s.transfer_ms)}. {advice}" + note,
            impact=min(10.0, 3 * s.total_ms / cfg.http_slow_ms),
            evidence=_evidence(s, cfg),
        ))
    return out


def stall_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    out = []
    for s in result.latency_breakdown:
        for waited, what, fid in (
            (s.zero_window_ms, "waiting on zero windows advertised by the client", "latency.zero_window"),
            (s.retransmission_wait_ms, "waiting for retransmission timeouts", "latency.rto_wait"),
        ):
            share = pct(waited, s.time_ms)
            if share < STALL_WARNING_PCT:
                continue
            sev, note = _few(s, cfg)
            out.append(Finding(
                id=fid,
                severity=sev,
                title=f"Responses from {s.server} spend {share:.0f}% of their time {what}",
                detail=f"{_dur(waited)} of {_dur(s.time_ms)} over {s.requests:,} exchanges. "
                + ("The client reads its data too slowly: its receive buffer fills and the server must "
                   "stop sending." if fid == "latency.zero_window" else
                   "Lost segments were only resent after a timeout: loss on the path, with too little "
                   "data in flight for fast retransmission.") + note,
                impact=min(10.0, share / 10),
                evidence=_evidence(s, cfg),
            ))
    return out


def server_error_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    h = result.http
    n = sum(v for code, v in h.status_codes.items() if code.startswith("5"))
    share = pct(n, h.responses)
    if not n:
        return []
    sev = "warning" if share >= SERVER_ERROR_WARNING_PCT and n >= cfg.http_min_requests else "info"
    frames = [r.request_frame for r in h.slowest if r.status is not None and r.status >= 500]
    return [Finding(
        id="http.server_errors",
        severity=sev,
        title=f"{n:,} of {h.responses:,} HTTP responses ({share:.1f}%) were server errors (5xx)",
        detail="The server failed to handle these requests (500 internal error, 502/504 from a proxy whose "
        "upstream failed or timed out, 503 overloaded).",
        impact=min(10.0, share / 2),
        evidence=Evidence(frames=frames[: cfg.max_evidence_frames]),
    )]


HTTP_RULES = (latency_findings, stall_findings, server_error_findings)
