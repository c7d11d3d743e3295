"""Report models of ports/services and DNS by registered domain (issue 14, exports helper)."""

from __future__ import annotations

from msgspec import field

from pcap_analyzer.report.base import ReportModel


class ServiceStat(ReportModel, kw_only=True):
    """Traffic to one server port: conversations whose responder (SYN receiver; for UDP and for TCP
    connections whose start was not captured, the first packet's receiver) uses that port."""

    protocol: str  # "tcp" | "udp"
    port: int
    service: str | None = None  # IANA service name (Wireshark's copy of the registry); None: unassigned
    connections: int = 0  # conversations (TCP: tcp.stream; UDP: address/port pairs)
    packets: int = 0
    bytes: int = 0  # frame.len, both directions
    bytes_to_server: int = 0
    bytes_to_client: int = 0
    filter: str = ""  # Wireshark display filter of this service's traffic


class DnsDomain(ReportModel, kw_only=True):
    """DNS figures of one registered domain (public suffix + one label, by the Public Suffix List)."""

    domain: str  # e.g. "example.co.uk"; the name itself when it has no known public suffix; "." for root
    queries: int = 0  # query packets, retransmissions included (as DnsSummary.queries)
    names: int = 0  # distinct query names under the domain
    answered: int = 0  # transactions answered
    failures: dict[str, int] = field(default_factory=dict)  # rcode name -> answers, NOERROR apart
    slow_answers: int = 0  # answers slower than dns_slow_ms
    unanswered: int = 0  # as DnsSummary.unanswered
    pending_at_end: int = 0
    max_response_ms: float | None = None
    filter: str = ""  # Wireshark display filter of the domain's queries and responses
