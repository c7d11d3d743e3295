"""Report models of the HTTP/1.x analyzer and of the application latency breakdown."""

from __future__ import annotations

from msgspec import field

from pcap_analyzer.report.base import ReportModel
from pcap_analyzer.report.model import Stats


class HttpRequest(ReportModel, kw_only=True):
    """One request and its response (times in ms; None when no response was seen)."""

    method: str
    host: str  # Host header ("" when absent), printable, as sent (with the port when one was given)
    path: str  # request target, printable (\\xNN escapes), cut to 200 characters
    status: int | None = None
    response_time_ms: float | None = None  # request -> first response byte (tshark http.time, see docs)
    transfer_ms: float | None = None  # first -> last byte of the response
    response_bytes: int = 0  # response head + body bytes
    stream: int  # tcp.stream
    request_frame: int  # frame completing the request head (tshark http.request_in)
    response_frame: int | None = None  # frame completing the response head
    ts: float  # request time, epoch seconds
    filter: str = ""  # Wireshark display filter: the request and its response


class HttpHostStats(ReportModel, kw_only=True):
    """Requests to one Host and first path segment ("/api" for "/api/users?x=1")."""

    host: str
    path_prefix: str
    requests: int = 0
    responses: int = 0
    errors: int = 0  # responses with status >= 400
    response_bytes: int = 0
    response_time_ms: Stats = field(default_factory=Stats)


class HttpSummary(ReportModel, kw_only=True):
    """HTTP/1.x over TCP on any port, found by content (request and status lines)."""

    requests: int = 0  # request messages (tshark http.request)
    responses: int = 0  # response messages (tshark http.response), 1xx included
    unanswered: int = 0  # requests with no final response seen
    connections: int = 0  # TCP connections carrying HTTP
    methods: dict[str, int] = field(default_factory=dict)
    status_codes: dict[str, int] = field(default_factory=dict)  # {"200": n}, tshark http.response.code
    response_time_ms: Stats = field(default_factory=Stats)  # request -> first response byte
    transfer_ms: Stats = field(default_factory=Stats)  # first -> last response byte
    slowest: list[HttpRequest] = field(default_factory=list)  # slowest first, capped (limits.http_slowest)
    hosts: list[HttpHostStats] = field(default_factory=list)  # most requests first, capped


class LatencyServer(ReportModel, kw_only=True):
    """Where the time of one server's exchanges goes (medians over its exchanges, ms)."""

    server: str  # Host name (HTTP), else address:port
    kind: str  # "http", or what the exchanges were (e.g. "tls")
    requests: int = 0
    total_ms: float = 0.0  # median request -> last response byte
    time_ms: float = 0.0  # summed over exchanges: request -> last response byte
    network_ms: float = 0.0  # median RTT of the connection near each request
    server_ms: float = 0.0  # median (first byte time - one RTT), not below 0
    transfer_ms: float = 0.0  # median first -> last response byte
    retransmission_wait_ms: float = 0.0  # summed over exchanges: transfer time inside RTO waits
    zero_window_ms: float = 0.0  # summed over exchanges: transfer time while the client's window was 0
    dominant: str = ""  # "network" | "server" | "transfer"
    dominant_pct: float = 0.0  # its share of network + server + transfer (medians)
    streams: list[int] = field(default_factory=list)  # a few tcp.stream ids
    frames: list[int] = field(default_factory=list)  # request frames of the slowest exchanges


class LatencyConnection(ReportModel, kw_only=True):
    """Where the time of one TCP connection's exchanges goes (ms; sums and medians over its exchanges)."""

    stream: int  # tcp.stream
    client: str
    client_port: int
    server: str
    server_port: int
    names: list[str] = field(default_factory=list)  # the exchanges' servers (Host, SNI, else address:port)
    kinds: list[str] = field(default_factory=list)  # "http", "tls", sorted
    exchanges: int = 0
    time_ms: float = 0.0  # summed over exchanges: request -> last response byte
    total_ms: float = 0.0  # median request -> last response byte
    network_sum_ms: float = 0.0  # summed RTT near each request
    server_sum_ms: float = 0.0  # summed (first byte time - one RTT), each not below 0
    transfer_sum_ms: float = 0.0  # summed first -> last response byte
    network_median_ms: float = 0.0
    server_median_ms: float = 0.0
    transfer_median_ms: float = 0.0
    retransmission_wait_ms: float = 0.0  # summed: transfer time inside RTO waits
    zero_window_ms: float = 0.0  # summed: transfer time while the client's window was 0
    dominant: str = ""  # "network" | "server" | "transfer": the largest of the three sums
    dominant_pct: float = 0.0  # its share of time_ms
    slowest_frame: int = 0  # request frame of the exchange with the longest request -> last response byte
    slowest_ms: float = 0.0  # that exchange's request -> last response byte
    filter: str = ""  # Wireshark display filter: tcp.stream == N
