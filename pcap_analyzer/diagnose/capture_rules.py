"""Capture-level rules: traffic the engine could not analyse, timestamps that go backwards.

A capture whose packets were mostly not analysed must not look healthy: the score only vouches for what was
analysed, so "capture.not_analysed" is a warning (with a penalty) when at least NOT_ANALYSED_WARNING_PCT of
the packets were left out, and an info finding from NOT_ANALYSED_INFO_PCT.
"""

from __future__ import annotations

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.diagnose.measures import pct, weigh
from pcap_analyzer.report.model import AnalysisResult, Finding, NotAnalysed

NOT_ANALYSED_INFO_PCT = 5.0
NOT_ANALYSED_WARNING_PCT = 50.0
LISTED_GROUPS = 3

_WHY = {
    "unsupported_linktype": "link type not decoded",
    "non_ip": "not IP",
    "other_l4": "IP protocol not decoded",
    "truncated_link": "cut link header",
    "truncated_ip": "cut IP header",
    "bad_ip_header": "invalid IP header",
}


def _group_label(g: NotAnalysed, total: int) -> str:
    why = _WHY.get(g.reason, g.reason)
    share = pct(g.packets, total)
    figure = f"{share:.0f}%" if share >= 1 else f"{g.packets:,} packets"
    return f"{figure} {g.protocol} ({why})"


def not_analysed_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    cap = result.capture
    n = cap.not_analysed_packets
    share = pct(n, cap.packets)
    if n <= 0 or share < NOT_ANALYSED_INFO_PCT:
        return []
    groups = ", ".join(_group_label(g, cap.packets) for g in cap.not_analysed[:LISTED_GROUPS])
    more = len(cap.not_analysed) - LISTED_GROUPS
    if more > 0:
        groups += f" and {more:,} more kind{'s' if more != 1 else ''}"
    sev, note = weigh("warning" if share >= NOT_ANALYSED_WARNING_PCT else "info", n, cap.packets, cfg)
    return [
        Finding(
            id="capture.not_analysed",
            severity=sev,
            title=f"{share:.0f}% of packets ({n:,} of {cap.packets:,}) were not analysed: {groups}",
            detail="The engine could not decode these packets down to TCP/UDP over IP (a link type, "
            "encapsulation or protocol it does not decode, or a damaged header), so the figures and the "
            "health score cover only the rest of the capture. capture.not_analysed in the JSON report lists "
            "them by link type, protocol and reason." + note,
            impact=share / 2,
        )
    ]


def time_backwards_findings(result: AnalysisResult, cfg: AnalysisConfig) -> list[Finding]:
    n = result.capture.timestamps_backwards
    if n <= 0:
        return []
    return [
        Finding(
            id="capture.time_backwards",
            severity="info",
            title=f"Timestamps go backwards {n:,} time{'s' if n != 1 else ''} in the capture",
            detail="Some packets are stamped earlier than the packet before them (merged captures, several "
            "capture interfaces, or a clock step). The capture's duration is the latest minus the earliest "
            "timestamp; time-based figures around those packets may be off.",
            impact=0.5,
        )
    ]


CAPTURE_RULES = (not_analysed_findings, time_backwards_findings)
