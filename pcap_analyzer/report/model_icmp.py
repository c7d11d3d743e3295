"""Report models of the ICMP diagnostics (`icmp`) and of where TCP connections wait (`tcp_waits`):
zero-window stalls, idle and never-closed connections, SYN retransmission timing, PMTU black-hole hints."""

from __future__ import annotations

from msgspec import field

from pcap_analyzer.report.base import ReportModel


class IcmpPeer(ReportModel, kw_only=True):
    address: str
    messages: int  # ICMP / ICMPv6 messages sent (sources) or received (destinations)
    errors: int = 0  # of which error messages (unreachable, packet too big, time exceeded, ...)


class PmtuReport(ReportModel, kw_only=True):
    """Fragmentation needed (ICMP 3/4) or packet too big (ICMPv6 2) from one router about one destination."""

    router: str  # the message's source
    destination: str  # destination of the quoted packet ("" when not captured)
    mtu: int  # next-hop MTU announced
    messages: int
    first_frame: int


class IcmpSummary(ReportModel, kw_only=True):
    """ICMP and ICMPv6 messages (outer header of each frame; an ICMP error's quoted packet is not counted)."""

    packets: int = 0
    messages: dict[str, int] = field(default_factory=dict)  # "type name/code name" -> count
    unreachable: int = 0  # ICMP type 3 + ICMPv6 type 1
    fragmentation_needed: int = 0  # ICMP 3/4 + ICMPv6 packet too big
    packet_too_big: int = 0  # ICMPv6 type 2
    time_exceeded: int = 0  # ICMP type 11 + ICMPv6 type 3
    redirects: int = 0  # ICMP type 5 + ICMPv6 type 137
    next_hop_mtus: list[int] = field(default_factory=list)  # distinct MTUs announced, ascending
    sources: list[IcmpPeer] = field(default_factory=list)  # most messages first, capped
    destinations: list[IcmpPeer] = field(default_factory=list)
    pmtu: list[PmtuReport] = field(default_factory=list)  # capped
    error_frames: dict[str, list[int]] = field(default_factory=dict)  # kind -> first frames (evidence)


class StalledConnection(ReportModel, kw_only=True):
    """Time one connection's sender was blocked by its peer's receive window."""

    stream: int
    client: str
    server: str
    duration_s: float
    stalls: int  # zero window -> window opened again (or connection end)
    stalled_ms: float  # total time under a zero window
    longest_stall_ms: float
    stalled_pct: float  # of the connection's duration
    low_window_ms: float  # time the advertised window stayed below low_window_bytes
    zero_window_by: str  # the side that advertised the zero window ("client", "server", "both", "")
    filter: str  # Wireshark display filter


class IdleConnection(ReportModel, kw_only=True):
    stream: int
    client: str
    server: str
    duration_s: float
    longest_idle_s: float  # longest gap between two packets of the connection
    idle_from_ts: float  # epoch seconds of the packet before that gap
    closed: bool  # a FIN or RST was seen
    filter: str


class OpenConnection(ReportModel, kw_only=True):
    """A connection with no FIN and no RST by the end of the capture."""

    stream: int
    client: str
    server: str
    state: str  # Zeek conn_state
    last_ts: float  # last activity, epoch seconds
    idle_at_end_s: float  # capture end - last activity
    filter: str


class SynRetry(ReportModel, kw_only=True):
    """SYN retransmissions of one connection attempt, compared with RFC 6298 (initial RTO 1 s, doubling)."""

    stream: int
    client: str
    server: str
    syns: int
    intervals_ms: list[float]  # between successive SYNs
    expected_ms: list[float]  # 1000, 2000, 4000, ...
    rfc6298: bool  # every interval within syn_rto_tolerance_pct of the expected one
    answered: bool  # a SYN/ACK came back
    filter: str


class BlackHoleSuspect(ReportModel, kw_only=True):
    """Large segments retransmitted again and again while small ones pass: a path MTU black hole?"""

    stream: int
    sender: str
    receiver: str
    large_segments: int  # data segments >= pmtu_large_segment_bytes (with their retransmissions)
    large_retransmissions: int
    small_segments: int
    small_retransmissions: int
    filter: str


class TcpWaits(ReportModel, kw_only=True):
    """Where TCP connections wait: stalled windows, idle gaps, never-closed connections, SYN retries."""

    stalled_connections: int = 0  # connections with at least one zero-window stall
    stalled_ms: float = 0.0  # over all connections
    low_window_connections: int = 0
    stalls: list[StalledConnection] = field(default_factory=list)  # most stalled time first, capped
    idle_connections: int = 0  # longest gap >= idle_threshold_s
    idle: list[IdleConnection] = field(default_factory=list)  # longest gap first, capped
    never_closed_connections: int = 0
    never_closed: list[OpenConnection] = field(default_factory=list)  # longest idle at end first, capped
    syn_retry_connections: int = 0
    syn_retry_nonstandard: int = 0  # of which with intervals not as RFC 6298
    syn_retries: list[SynRetry] = field(default_factory=list)  # capped
    black_hole_suspects: list[BlackHoleSuspect] = field(default_factory=list)  # capped
