"""Shared helpers of the diagnosis: rates, labels and the evidence rules every finding follows."""

from __future__ import annotations

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.report.model import TcpConnection

# Responses that mean the server failed; NXDOMAIN is an answer, not a failure.
DNS_OK_RCODES = frozenset({"NOERROR", "NXDOMAIN", "0", "3"})
SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}


def pct(part: float, whole: float) -> float:
    """part / whole in percent, 0 when whole is 0."""
    return 100.0 * part / whole if whole > 0 else 0.0


def endpoint(addr: str, port: int) -> str:
    """`10.0.0.1:80` or `[2001:db8::1]:80`."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def flow_label(c: TcpConnection) -> str:
    """`client:port -> server:port` of a connection."""
    return f"{endpoint(c.client, c.client_port)} -> {endpoint(c.server, c.server_port)}"


def severity(value: float, warning: float, critical: float) -> str:
    """`critical`, `warning` or `info` for a rate compared with its two thresholds."""
    return "critical" if value >= critical else "warning" if value >= warning else "info"


def weigh(sev: str, events: int, sample: int, cfg: AnalysisConfig) -> tuple[str, str]:
    """Severity after the evidence rules, and the note to add to the detail ("" when none).

    Fewer than `min_evidence_events` bad events give at most info; a rate over fewer than
    `min_sample_packets` packets is at most a warning and says on how many packets it is based.
    """
    note = ""
    if sample < cfg.min_sample_packets:
        note = f" Based on {sample:,} packet{'s' if sample != 1 else ''} only: a small sample."
        if sev == "critical":
            sev = "warning"
    if events < cfg.min_evidence_events and sev != "info":
        sev = "info"
        note += (
            f" Kept at info: {events:,} event{'s' if events != 1 else ''}, fewer than the "
            f"{cfg.min_evidence_events:,} needed for a warning (min_evidence_events)."
        )
    return sev, note
