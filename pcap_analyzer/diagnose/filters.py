"""Wireshark display filters for findings and table rows (the hand-off to Wireshark).

`add_filters` fills every empty `filter` field once the result is complete: findings, connections (TCP and
latency per connection), DNS queries, talkers and HTTP requests when the result has them. A filter selects
the packets behind the finding (e.g. the retransmissions of the server's connections), checkable with
`tshark -Y FILTER`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.diagnose.measures import endpoint
from pcap_analyzer.report.base import field_names
from pcap_analyzer.report.model import AnalysisResult, Finding

_FLOW = re.compile(r"^(\[?[0-9A-Fa-f:.]+\]?):(\d+) -> (\[?[0-9A-Fa-f:.]+\]?):(\d+)$")


def _ip(addr: str) -> str:
    return "ipv6" if ":" in addr else "ip"


def _num(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".")


def in_set(field: str, values: Iterable[int]) -> str:
    """`field == v` for one value, `field in {a b c}` for several, "" for none."""
    vals = sorted(set(values))
    if not vals:
        return ""
    return f"{field} == {vals[0]}" if len(vals) == 1 else f"{field} in {{{', '.join(map(str, vals))}}}"


def endpoint_filter(addr: str, port: int, proto: str = "tcp") -> str:
    """Packets to or from the endpoint addr:port."""
    ip = _ip(addr)
    return (
        f"(({ip}.src == {addr} && {proto}.srcport == {port}) || "
        f"({ip}.dst == {addr} && {proto}.dstport == {port}))"
    )


def flow_filter(flow: str, proto: str) -> str:
    """One direction of a flow written `a:p -> b:q`, "" when it does not parse."""
    m = _FLOW.match(flow)
    if not m:
        return ""
    a, p, b, q = m.group(1).strip("[]"), m.group(2), m.group(3).strip("[]"), m.group(4)
    return f"{_ip(a)}.src == {a} && {proto}.srcport == {p} && {_ip(b)}.dst == {b} && {proto}.dstport == {q}"


def _and(*parts: str) -> str:
    parts = tuple(p for p in parts if p)
    if len(parts) <= 1:
        return parts[0] if parts else ""
    return " && ".join(f"({p})" if "||" in p and not p.startswith("((") else p for p in parts)


def _server_of(f: Finding, servers: Iterable[str]) -> str | None:
    """The server endpoint a per-server finding names in its title (longest match wins)."""
    title = f.title
    found = [s for s in servers if s in title and re.search(re.escape(s) + r"(?![\d.])", title)]
    return max(found, key=len) if found else None


def _split(server: str) -> tuple[str, int]:
    addr, _, port = server.rpartition(":")
    return addr.strip("[]"), int(port)


def _tcp_server(flag: str) -> Callable[[Finding, AnalysisResult, AnalysisConfig], str]:
    def build(f: Finding, r: AnalysisResult, cfg: AnalysisConfig) -> str:
        s = _server_of(f, (x.server for x in r.tcp_servers))
        if s is None:
            return _and(in_set("tcp.stream", f.evidence.streams), flag)
        return _and(endpoint_filter(*_split(s)), flag)

    return build


def _streams(flag: str) -> Callable[[Finding, AnalysisResult, AnalysisConfig], str]:
    def build(f: Finding, r: AnalysisResult, cfg: AnalysisConfig) -> str:
        return _and(in_set("tcp.stream", f.evidence.streams), flag) if f.evidence.streams else ""

    return build


def _dns_server(clause: Callable[[AnalysisConfig], str], to_server: bool) -> Callable[..., str]:
    def build(f: Finding, r: AnalysisResult, cfg: AnalysisConfig) -> str:
        s = _server_of(f, (x.server for x in r.dns.servers))
        where = "" if s is None else f"{_ip(s)}.{'dst' if to_server else 'src'} == {s}"
        return _and(where, clause(cfg))

    return build


def _high_rtt(f: Finding, r: AnalysisResult, cfg: AnalysisConfig) -> str:
    return _tcp_server(f"tcp.analysis.ack_rtt > {_num(cfg.high_rtt_ms / 1000)}")(f, r, cfg)


def _udp_flow(f: Finding, r: AnalysisResult, cfg: AnalysisConfig) -> str:
    return flow_filter(f.evidence.flows[0], "udp") if f.evidence.flows else ""


# first copies only: tshark links a response to the first query of a retransmitted one, not to the copies
_UNANSWERED = "dns.flags.response == 0 && !dns.response_in && !dns.retransmission"

_BUILDERS: dict[str, Callable[[Finding, AnalysisResult, AnalysisConfig], str]] = {
    "tcp.loss": _tcp_server("tcp.analysis.retransmission"),
    "tcp.high_rtt": _high_rtt,
    "tcp.zero_window": _streams("tcp.analysis.zero_window"),
    # tcp.completeness (Wireshark 4.0+) bits: 1 SYN, 2 SYN/ACK, 32 RST seen in the conversation
    "tcp.refused": _tcp_server("tcp.completeness & 1 && !(tcp.completeness & 2) && tcp.completeness & 32"),
    "tcp.unanswered_syn": _tcp_server("tcp.completeness & 1 && !(tcp.completeness & 34)"),
    # established (SYN/ACK seen) or begun before the capture: refused attempts apart, as reset_connections
    "tcp.reset": _tcp_server("tcp.flags.reset == 1 && (tcp.completeness & 2 || !(tcp.completeness & 1))"),
    "tcp.slow_handshake": _streams("tcp.flags.syn == 1"),
    "dns.unanswered": _dns_server(lambda c: _UNANSWERED, True),
    "dns.errors": _dns_server(
        lambda c: "dns.flags.response == 1 && dns.flags.rcode != 0 && dns.flags.rcode != 3", False
    ),
    "dns.slow": _dns_server(lambda c: f"dns.time > {_num(c.dns_slow_ms / 1000)}", False),
    "dns.nxdomain": lambda f, r, c: "dns.flags.rcode == 3",
    "dns.pending_at_end": lambda f, r, c: _UNANSWERED,
    "udp.jitter": _udp_flow,
    "traffic.gap": lambda f, r, c: f"frame.time_delta > {_num(c.gap_threshold_s)}",
    "capture.time_backwards": lambda f, r, c: "frame.time_delta < 0",
    "capture.truncated": lambda f, r, c: f"frame.number == {r.capture.packets}",
    "capture.not_analysed": lambda f, r, c: "!tcp && !udp && !icmp && !icmpv6",
}


def finding_filter(f: Finding, result: AnalysisResult, cfg: AnalysisConfig) -> str:
    """The display filter of one finding: by kind, else its evidence streams or frames ("" if none)."""
    build = _BUILDERS.get(f.id)
    if build is not None:
        text = build(f, result, cfg)
        if text:
            return text
    if f.evidence.streams:
        return in_set("tcp.stream", f.evidence.streams)
    return in_set("frame.number", f.evidence.frames)


def request_filter(stream: int | None, frame: int | None, response_frame: int | None = None) -> str:
    """An HTTP request and its response: `tcp.stream == S && (frame.number in {F, R} || http.request_in ==
    F)`: our response frame (the one ending its head) and tshark's (the one ending its body, linked by
    http.request_in, which tshark 4.0 leaves out for the second of two pipelined requests)."""
    if frame is None:
        return "" if stream is None else f"tcp.stream == {stream}"
    ours = f"frame.number == {frame}"
    if response_frame is not None:
        ours = f"frame.number in {{{frame}, {response_frame}}}"
    pair = f"{ours} || http.request_in == {frame}"
    return f"({pair})" if stream is None else f"tcp.stream == {stream} && ({pair})"


def _set(row: Any, value: str) -> None:
    if "filter" in field_names(type(row)) and not getattr(row, "filter", ""):
        row.filter = value


def add_filters(result: AnalysisResult, cfg: AnalysisConfig) -> None:
    """Fill the empty `filter` fields of findings and table rows (see the module docstring)."""
    for f in result.findings:
        _set(f, finding_filter(f, result, cfg))
    for c in (*result.connections, *result.latency_connections):
        _set(c, f"tcp.stream == {c.stream}")
    d = result.dns
    for q in (*d.unanswered_queries, *d.error_responses, *d.slowest_queries):
        _set(q, f"frame.number == {q.frame} || dns.response_to == {q.frame}")
    for t in result.top_talkers:
        _set(t, f"{_ip(t.address)}.addr == {t.address}" if t.address[:1].isalnum() else "")
    http = getattr(result, "http", None)
    for row in getattr(http, "slowest", None) or ():
        stream = getattr(row, "stream", None)
        frame = getattr(row, "request_frame", None) or getattr(row, "frame", None)
        _set(row, request_filter(stream, frame, getattr(row, "response_frame", None)))


__all__ = ["add_filters", "endpoint", "endpoint_filter", "finding_filter", "flow_filter", "in_set"]
