"""The TLS section of the report: handshakes, their timing per server, versions, SNI, ALPN and alerts."""

from __future__ import annotations

from msgspec import field

from pcap_analyzer.report.base import ReportModel
from pcap_analyzer.report.model import Stats


class TlsHandshake(ReportModel, kw_only=True):
    """One TLS connection's handshake (a TCP stream with a ClientHello)."""

    stream: int  # tcp.stream
    client: str
    client_port: int
    server: str
    server_port: int
    server_name: str | None = None  # SNI of the first ClientHello
    version: str | None = None  # negotiated (ServerHello supported_versions, else its version)
    alpn_offered: list[str] = field(default_factory=list)
    alpn_selected: str | None = None  # readable up to TLS 1.2 (TLS 1.3 sends it encrypted)
    client_hello_frame: int
    client_hello_ts: float
    server_hello_frame: int | None = None
    hello_ms: float | None = None  # ClientHello -> ServerHello
    done_ms: float | None = None  # ClientHello -> handshake done
    alert: str | None = None  # the first fatal cleartext alert before the handshake was done
    alert_frame: int | None = None
    alert_from: str | None = None  # "client" or "server"
    outcome: str = "incomplete"  # "completed", "failed" (fatal alert) or "incomplete"

    @property
    def server_key(self) -> str:
        """The server as TlsServer names it: the SNI, else address:port."""
        if self.server_name:
            return self.server_name
        host = f"[{self.server}]" if ":" in self.server else self.server
        return f"{host}:{self.server_port}"


class TlsServer(ReportModel, kw_only=True):
    """Handshakes to one server: its SNI, or address:port when the ClientHello named none."""

    server: str
    handshakes: int = 0  # connections with a ClientHello
    completed: int = 0
    failed: int = 0
    incomplete: int = 0
    slow: int = 0  # ClientHello -> ServerHello slower than tls_slow_handshake_ms
    hello_ms: Stats = field(default_factory=Stats)  # ClientHello -> ServerHello
    done_ms: Stats = field(default_factory=Stats)  # ClientHello -> handshake done
    versions: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # alert name -> handshakes it aborted


class TlsSummary(ReportModel, kw_only=True):
    handshakes: int = 0  # ClientHello messages (tls.handshake.type == 1)
    server_hellos: int = 0  # ServerHello messages (tls.handshake.type == 2)
    connections: int = 0  # TCP streams with a ClientHello
    completed: int = 0
    failed: int = 0  # aborted by a fatal cleartext alert
    handshake_ms: Stats = field(default_factory=Stats)  # ClientHello -> ServerHello, per connection
    handshake_done_ms: Stats = field(default_factory=Stats)  # ClientHello -> handshake done, per connection
    versions: dict[str, int] = field(default_factory=dict)  # negotiated version -> connections
    server_names: dict[str, int] = field(default_factory=dict)  # SNI -> ClientHello messages
    alpn_offered: dict[str, int] = field(default_factory=dict)  # protocol -> ClientHellos offering it
    alpn_selected: dict[str, int] = field(default_factory=dict)  # protocol -> ServerHellos selecting it
    alerts: dict[str, int] = field(default_factory=dict)  # description name -> cleartext alert records
    servers: list[TlsServer] = field(default_factory=list)  # most handshakes first, capped
    failures: list[TlsHandshake] = field(default_factory=list)  # failed handshakes, earliest first, capped
    slowest: list[TlsHandshake] = field(default_factory=list)  # slowest ClientHello -> ServerHello, capped
