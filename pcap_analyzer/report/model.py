"""AnalysisResult: the complete outcome of one analysis. Its JSON serialization is the JSON report.

The key paths listed in docs/json-report.md are a stable contract; add fields, never rename or remove
them without bumping SCHEMA_VERSION's major number.
"""

from __future__ import annotations

from msgspec import field

from pcap_analyzer.report.base import ReportModel
from pcap_analyzer.report.model_exports import DnsDomain, ServiceStat
from pcap_analyzer.report.model_icmp import IcmpSummary, TcpWaits

# 1.1: tcp_servers, DNS pending_at_end, never-answered SYNs, `security`
# 1.2: capture.not_analysed / not_analysed_packets, capture.timestamps_backwards, duration_s = max - min
# 1.3: http, tls, latency_breakdown, latency_connections, icmp, tcp_waits, services, dns.domains,
#      dns.by_protocol, `filter` fields
SCHEMA_VERSION = "1.3"


class Stats(ReportModel, kw_only=True):
    """Summary of a sample of durations (ms). Percentiles use NumPy's default linear interpolation."""

    count: int = 0
    min: float | None = None
    median: float | None = None
    p95: float | None = None
    max: float | None = None
    mean: float | None = None


class WarningInfo(ReportModel, kw_only=True):
    """Damage found in the capture (see pcap_analyzer.errors.CaptureWarning)."""

    offset: int
    packet_index: int
    reason: str
    bytes_left: int | None = None


class NotAnalysed(ReportModel, kw_only=True):
    """Packets the engine could not analyse, for one link type, protocol and reason."""

    link_type: str  # LINKTYPE name, e.g. "ETHERNET", "IEEE802_11_RADIOTAP"
    protocol: str  # what decoding stopped at: "MPLS", "GRE", "802.3/LLC", the link type, "IP header"
    reason: str  # a `capture.undecoded` reason: unsupported_linktype, non_ip, other_l4, ...
    packets: int
    bytes: int  # sum of their original lengths


class CaptureInfo(ReportModel, kw_only=True):
    file_name: str
    file_size: int
    format: str  # "pcap" | "pcapng"
    compression: str | None = None  # None | "gzip" | "zstd"
    link_types: list[str] = field(default_factory=list)  # LINKTYPE names, e.g. "ETHERNET", "LINUX_SLL"
    packets: int = 0
    bytes: int = 0  # sum of original (wire) lengths, as Wireshark's frame.len
    captured_bytes: int = 0  # sum of captured lengths
    cut_packets: int = 0  # caplen < wire length (snaplen)
    first_ts: float | None = None  # epoch seconds
    last_ts: float | None = None
    duration_s: float = 0.0  # latest - earliest timestamp (as tshark), not last - first
    timestamps_backwards: int = 0  # records whose timestamp is earlier than the previous record's
    truncated: bool = False  # reading stopped early on damage; see warnings
    warnings: list[WarningInfo] = field(default_factory=list)
    undecoded: dict[str, int] = field(default_factory=dict)  # reason name -> packets
    not_analysed_packets: int = 0  # packets left out of the analysis (sum of not_analysed)
    not_analysed: list[NotAnalysed] = field(default_factory=list)  # most packets first


class TcpSummary(ReportModel, kw_only=True):
    """Capture-wide TCP figures. Counts are packets, as tshark counts frames carrying each flag."""

    conversations: int = 0
    packets: int = 0
    payload_bytes: int = 0
    data_segments: int = 0  # packets with TCP payload (denominator of retransmission rates)
    retransmissions: int = 0  # tcp.analysis.retransmission (all kinds, as tshark)
    fast_retransmissions: int = 0
    spurious_retransmissions: int = 0
    rto_retransmissions: int = 0  # ours: retransmissions not triggered by dup ACKs
    out_of_order: int = 0
    lost_segments: int = 0
    ack_lost_segments: int = 0
    duplicate_acks: int = 0
    zero_windows: int = 0
    zero_window_probes: int = 0
    window_full: int = 0
    window_updates: int = 0
    keep_alives: int = 0
    resets: int = 0  # packets with RST
    syn: int = 0  # packets with SYN and not ACK
    syn_ack: int = 0
    syn_retransmissions: int = 0
    unanswered_connections: int = 0  # SYN never answered by SYN/ACK (refused ones included, as tshark)
    refused_connections: int = 0  # SYN answered by RST
    never_answered_connections: int = 0  # SYN answered by neither SYN/ACK nor RST (refused ones apart)
    rto_wait_ms: float = 0.0  # time waiting for retransmission timeouts, union per connection, summed
    connection_time_s: float = 0.0  # sum of the connections' durations (denominator of rto_wait_ms)
    ack_rtt_ms: Stats = field(default_factory=Stats)
    handshake_ms: Stats = field(default_factory=Stats)  # first SYN -> first SYN/ACK
    initial_rtt_ms: Stats = field(default_factory=Stats)  # first SYN -> first ACK of the handshake
    rto_ms: Stats = field(default_factory=Stats)  # time from an original segment to its retransmission


class TcpServer(ReportModel, kw_only=True):
    """TCP figures of one server endpoint over ALL its connections in the capture (the denominators of the
    per-server findings)."""

    server: str  # "10.0.0.2:80" or "[2001:db8::1]:80"
    connections: int = 0
    data_segments: int = 0  # packets with payload, both directions
    retransmissions: int = 0
    affected_connections: int = 0  # connections with at least one retransmission
    rto_wait_ms: float = 0.0  # union of RTO waiting periods per connection, summed
    rto_connections: int = 0  # connections that waited for a retransmission timeout
    connection_time_s: float = 0.0  # sum of connection durations
    refused: int = 0  # SYN answered by RST
    never_answered: int = 0  # SYN answered by neither SYN/ACK nor RST
    reset_connections: int = 0  # connections with an RST, refused ones apart
    slow_handshakes: int = 0  # SYN to SYN/ACK slower than slow_handshake_ms
    worst_handshake_ms: float | None = None
    rtt_ms: Stats = field(default_factory=Stats)  # tcp.analysis.ack_rtt over all its connections


class DnsServer(ReportModel, kw_only=True):
    server: str
    queries: int = 0  # retransmitted ones included, as DnsSummary.queries
    unanswered: int = 0
    errors: int = 0
    pending_at_end: int = 0  # no answer seen before the capture ended (sent < dns_timeout_s before its end)
    slow_answers: int = 0  # answers slower than dns_slow_ms
    response_time_ms: Stats = field(default_factory=Stats)


class DnsQueryInfo(ReportModel, kw_only=True):
    frame: int
    ts: float
    client: str
    server: str
    name: str
    qtype: str
    rcode: str | None = None
    response_time_ms: float | None = None
    filter: str = ""  # Wireshark display filter of the query and its response


class DnsMessageCounts(ReportModel, kw_only=True):
    """DNS-format messages of one protocol, by the QR bit (as tshark's dns.flags.response)."""

    queries: int = 0
    responses: int = 0


class DnsSummary(ReportModel, kw_only=True):
    queries: int = 0
    responses: int = 0
    unanswered: int = 0  # no answer within dns_timeout_s (pending_at_end apart)
    # tshark's figure: query frames without dns.response_in (its id-only matching, 5-second window)
    unanswered_query_frames: int = 0
    pending_at_end: int = 0  # sent less than dns_timeout_s before the capture ended, no answer seen yet
    slow_answers: int = 0  # answers slower than dns_slow_ms
    retransmitted_queries: int = 0
    unsolicited_responses: int = 0
    response_time_ms: Stats = field(default_factory=Stats)
    rcodes: dict[str, int] = field(default_factory=dict)  # rcode name (NOERROR, NXDOMAIN, ...) -> responses
    # Messages per protocol: "dns" (UDP), "dns_tcp", "mdns" (5353), "llmnr" (5355), "dns_other_port" (UDP on
    # other ports, found as tshark's heuristic finds them); only those seen.
    by_protocol: dict[str, DnsMessageCounts] = field(default_factory=dict)
    histogram_ms: list[tuple[float, float, int]] = field(default_factory=list)  # (lo, hi, count)
    servers: list[DnsServer] = field(default_factory=list)  # slowest first
    unanswered_queries: list[DnsQueryInfo] = field(default_factory=list)  # capped, see `limits`
    error_responses: list[DnsQueryInfo] = field(default_factory=list)  # capped
    slowest_queries: list[DnsQueryInfo] = field(default_factory=list)  # capped
    domains: list[DnsDomain] = field(default_factory=list)  # by registered domain, most queries first, capped


class UdpStream(ReportModel, kw_only=True):
    src: str
    src_port: int
    dst: str
    dst_port: int
    packets: int
    bytes: int
    duration_s: float
    jitter_ms: Stats = field(default_factory=Stats)  # RFC 3550 interarrival jitter over time
    rtp_like: bool = False
    rtp_lost: int | None = None  # sequence gaps, for RTP-like streams
    first_frame: int = 0
    jitter_last_ms: float | None = None  # RFC 3550 J after the last packet (the figure RTP tools report)
    jitter_method: str = "capture_time"  # "capture_time" (D vs the median interval) or "rtp_timestamp"


class Talker(ReportModel, kw_only=True):
    address: str
    bytes: int  # sent
    packets: int  # sent
    bytes_received: int = 0
    packets_received: int = 0
    filter: str = ""  # Wireshark display filter of the address's packets


class Conversation(ReportModel, kw_only=True):
    """Traffic between two addresses, all protocols (as tshark -z conv,ip)."""

    a: str
    b: str
    packets: int
    bytes: int
    bytes_ab: int = 0
    bytes_ba: int = 0
    first_ts: float
    duration_s: float
    throughput_bps: float


class FlaggedPacket(ReportModel, kw_only=True):
    frame: int
    ts: float
    direction: int  # 0 = client to server
    flags: list[str]  # TcpAnalysis names, lower case (e.g. "retransmission")


class TcpConnection(ReportModel, kw_only=True):
    """One TCP conversation (tcp.stream), like tshark -z conv,tcp plus health columns."""

    stream: int
    client: str
    client_port: int
    server: str
    server_port: int
    first_frame: int
    first_ts: float
    duration_s: float
    packets_ab: int
    packets_ba: int
    bytes_ab: int
    bytes_ba: int
    payload_ab: int = 0
    payload_ba: int = 0
    throughput_bps: float = 0.0
    handshake_ms: float | None = None
    rtt_ms: Stats = field(default_factory=Stats)
    retransmissions: int = 0
    retransmission_pct: float = 0.0
    fast_retransmissions: int = 0
    duplicate_acks: int = 0
    lost_segments: int = 0
    out_of_order: int = 0
    zero_windows: int = 0
    window_full: int = 0
    resets: int = 0
    state: str = "OTH"  # Zeek conn_state: S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH
    rto_time_ms: float = 0.0  # time spent waiting for timeout-driven retransmissions
    score: float = 0.0  # badness used to rank connections (higher = worse)
    flagged: list[FlaggedPacket] = field(default_factory=list)  # capped, see `limits`
    filter: str = ""  # Wireshark display filter of the connection (tcp.stream == N)
    # Encapsulation stacks its packets crossed (VLAN tags, MPLS, PPPoE, tunnels), as protocol-hierarchy paths
    # from the link to the innermost network layer, e.g. "Ethernet/IPv4/GRE/IPv4"; most packets first. Empty
    # when no packet of the connection crossed one (packets without one are not listed).
    encapsulation: list[str] = field(default_factory=list)


class SeriesPoint(ReportModel, kw_only=True):
    t: float  # seconds since the first packet
    v: float


class ConnectionDetail(ReportModel, kw_only=True):
    """Time series for the drill-down of one of the worst connections (downsampled)."""

    stream: int
    seq: list[tuple[float, int, int, int]] = field(default_factory=list)  # (t, rel_seq, len, analysis bits)
    ack: list[tuple[float, int]] = field(default_factory=list)  # reverse direction (t, rel_ack)
    window: list[tuple[float, int]] = field(default_factory=list)  # (t, receive window of the receiver)


class Timeline(ReportModel, kw_only=True):
    """Per-bucket series on a common time axis (seconds since first packet)."""

    bucket_s: float = 1.0
    start_ts: float | None = None
    bytes_ab: list[int] = field(default_factory=list)  # per bucket, TCP/UDP initiator to responder
    bytes_ba: list[int] = field(default_factory=list)
    bytes_total: list[int] = field(default_factory=list)  # all packets
    packets: list[int] = field(default_factory=list)
    events: dict[str, list[int]] = field(default_factory=dict)  # e.g. "retransmission" -> count per bucket
    rtt_ms: list[SeriesPoint] = field(default_factory=list)  # downsampled ACK RTT samples
    dns_ms: list[SeriesPoint] = field(default_factory=list)  # DNS response times
    top_connections: dict[str, list[int]] = field(default_factory=dict)  # "stream N" -> bytes per bucket


class Throughput(ReportModel, kw_only=True):
    bytes: int = 0
    duration_s: float = 0.0
    bits_per_s: float | None = 0.0  # None: the capture lasts less than 1 s, too short to average
    max_1s_bits_per_s: float = 0.0


class Fragmentation(ReportModel, kw_only=True):
    fragments: int = 0
    datagrams: int = 0  # distinct fragmented datagrams
    reassembled: int = 0  # all fragments seen
    incomplete: int = 0
    incomplete_examples: list[str] = field(default_factory=list)


class ProtocolShare(ReportModel, kw_only=True):
    protocol: str
    packets: int
    bytes: int


class Gap(ReportModel, kw_only=True):
    start_ts: float
    duration_s: float
    after_frame: int


class Burst(ReportModel, kw_only=True):
    start_ts: float
    duration_s: float
    packets: int
    bytes: int
    peak_bps: float


class HealthReason(ReportModel, kw_only=True):
    code: str
    message: str
    penalty: float


class Health(ReportModel, kw_only=True):
    score: int | None = 100  # 0..100; None: nothing to judge (a capture without packets)
    reasons: list[HealthReason] = field(default_factory=list)  # the warning/critical findings, same order
    note: str | None = None  # why there is no score


class Evidence(ReportModel, kw_only=True):
    streams: list[int] = field(default_factory=list)  # tcp.stream ids
    frames: list[int] = field(default_factory=list)  # frame numbers (capped)
    flows: list[str] = field(default_factory=list)  # "10.0.0.1:5000 -> 10.0.0.2:80"


class Finding(ReportModel, kw_only=True):
    id: str  # stable kind, e.g. "tcp.loss", "dns.unanswered"
    severity: str  # "critical" | "warning" | "info"
    title: str
    detail: str
    impact: float  # ranking key, higher first
    evidence: Evidence = field(default_factory=Evidence)
    filter: str = ""  # Wireshark display filter that selects the packets behind the finding


class SecurityEvidence(ReportModel, kw_only=True):
    """What a security finding rests on, checkable in Wireshark."""

    count: int = 0  # probes, SYNs, packets, connections or queries behind the finding (`unit` says which)
    unit: str = ""
    frames: list[int] = field(default_factory=list)  # frame numbers (capped), e.g. each connection's first
    filter: str = ""  # Wireshark display filter that shows the evidence


class SecurityFinding(ReportModel, kw_only=True):
    """One suspected attack pattern (pcap_analyzer.security)."""

    kind: str  # port_scan | syn_flood | udp_flood | icmp_flood | brute_force | dns_tunnel | beaconing |
    # exfiltration | lateral_movement
    severity: str  # "critical" | "warning" | "info"
    title: str
    detail: str  # one plain sentence with the figures
    sources: list[str] = field(default_factory=list)  # capped, see facts["sources_total"]
    targets: list[str] = field(default_factory=list)  # capped, see facts["targets_total"]
    first_ts: float
    last_ts: float
    evidence: SecurityEvidence = field(default_factory=SecurityEvidence)
    facts: dict[str, float | int | str] = field(default_factory=dict)  # detector-specific figures


class SecurityReport(ReportModel, kw_only=True):
    """The security view: findings, most severe first (empty when nothing suspicious was seen)."""

    enabled: bool = True
    detectors: list[str] = field(default_factory=list)  # kinds that were checked
    findings: list[SecurityFinding] = field(default_factory=list)


class Generator(ReportModel, kw_only=True):
    name: str = "pcap-analyzer"
    version: str


from pcap_analyzer.report.model_http import (  # noqa: E402  (they use Stats)
    HttpSummary,
    LatencyConnection,
    LatencyServer,
)
from pcap_analyzer.report.model_tls import TlsSummary  # noqa: E402  (it builds on Stats above)


class AnalysisResult(ReportModel, kw_only=True):
    """Everything one analysis found; encoded as JSON, it is the JSON report (report.json.write_json)."""

    schema_version: str = SCHEMA_VERSION
    generator: Generator
    analyzed_at: str  # ISO 8601 UTC
    elapsed_s: float = 0.0
    capture: CaptureInfo
    tcp: TcpSummary = field(default_factory=TcpSummary)
    dns: DnsSummary = field(default_factory=DnsSummary)
    udp_streams: list[UdpStream] = field(default_factory=list)
    top_talkers: list[Talker] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    connections: list[TcpConnection] = field(default_factory=list)  # worst first, capped, see `limits`
    tcp_servers: list[TcpServer] = field(default_factory=list)  # most affected first, capped, see `limits`
    connection_details: list[ConnectionDetail] = field(default_factory=list)
    timeline: Timeline = field(default_factory=Timeline)
    throughput: Throughput = field(default_factory=Throughput)
    fragmentation: Fragmentation = field(default_factory=Fragmentation)
    protocols: list[ProtocolShare] = field(default_factory=list)
    services: list[ServiceStat] = field(default_factory=list)  # server ports, most bytes first, capped
    gaps: list[Gap] = field(default_factory=list)
    bursts: list[Burst] = field(default_factory=list)
    health: Health = field(default_factory=Health)
    findings: list[Finding] = field(default_factory=list)  # most impact first
    security: SecurityReport = field(default_factory=SecurityReport)
    tls: TlsSummary = field(default_factory=TlsSummary)
    icmp: IcmpSummary = field(default_factory=IcmpSummary)
    tcp_waits: TcpWaits = field(default_factory=TcpWaits)
    http: HttpSummary = field(default_factory=HttpSummary)
    latency_breakdown: list[LatencyServer] = field(default_factory=list)  # per server, slowest first
    latency_connections: list[LatencyConnection] = field(default_factory=list)  # most time first, capped
    limits: dict[str, int] = field(default_factory=dict)  # caps applied to the lists above
    config: dict[str, float | int | str | bool] = field(default_factory=dict)  # thresholds used
