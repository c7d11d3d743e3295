"""AnalysisConfig: every threshold and cap the engine uses, with documented defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pcap_analyzer.security.config import SecurityConfig

# Same budget as pcap_analyzer.capture.open.CHUNK_BYTES (not imported: loading a config needs no NumPy).
CHUNK_BYTES = 8 << 20


class ConfigError(ValueError):
    """A configuration file or mapping is unreadable or holds an unknown or invalid key."""


class AnalysisConfig(BaseModel):
    """Thresholds and caps of one analysis. Unknown keys are refused so a typo never goes unnoticed.

    Every value has bounds: a setting that would divide by (nearly) zero or ask for gigabytes of memory is
    refused when the configuration is read, not halfway through an analysis.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # reading
    chunk_bytes: int = Field(
        default=CHUNK_BYTES, ge=64 * 1024, le=1 << 30, description="Bytes of records per chunk."
    )
    # flows
    tcp_idle_split_s: float = Field(
        default=600.0,
        ge=0.001,
        le=31_536_000,
        description="A SYN after this much idle time on a 5-tuple starts a new tcp.stream.",
    )
    # traffic shape
    gap_threshold_s: float = Field(
        default=1.0, ge=0.001, le=86_400, description="Silence longer than this is reported as a gap."
    )
    burst_factor: float = Field(
        default=5.0,
        gt=1,
        le=1_000_000,
        description="A window with burst_factor x the median packets per window is a burst.",
    )
    burst_bucket_s: float = Field(
        default=0.1, ge=0.001, le=3600, description="Window width used for burst detection."
    )
    burst_min_packets: int = Field(
        default=50, ge=1, le=1_000_000_000, description="A burst window holds at least this many packets."
    )
    timeline_bucket_s: float = Field(
        default=0.01,
        ge=0.001,
        le=86_400,
        description="Narrowest timeline bucket; it doubles until the capture fits in 2,000 buckets.",
    )
    # TCP
    slow_handshake_ms: float = Field(
        default=200.0, gt=0, le=600_000, description="SYN to SYN/ACK slower than this is slow."
    )
    high_rtt_ms: float = Field(
        default=150.0, gt=0, le=600_000, description="ACK RTT p95 above this is reported as high."
    )
    retrans_warning_pct: float = Field(
        default=1.0, ge=0, le=100, description="Retransmitted segments (%) that warn."
    )
    retrans_critical_pct: float = Field(
        default=5.0, ge=0, le=100, description="Retransmitted segments (%) that are critical."
    )
    rto_time_warning_pct: float = Field(
        default=10.0,
        ge=0,
        le=100,
        description="Share of a connection's duration spent waiting for RTOs that warns.",
    )
    # DNS
    dns_slow_ms: float = Field(
        default=100.0, gt=0, le=600_000, description="DNS responses slower than this are slow."
    )
    dns_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="A DNS query with no answer this long is unanswered; a younger one at the end of the "
        "capture is 'no answer seen before the capture ended'.",
    )
    # TLS (pcap_analyzer/analyzers/tls.py, diagnose/rules_tls.py)
    tls_slow_handshake_ms: float = Field(
        default=300.0,
        gt=0,
        le=600_000,
        description="A TLS ClientHello answered by the ServerHello later than this is a slow handshake.",
    )
    max_tls_examples: int = Field(
        default=50, ge=0, le=10_000, description="Failed and slowest TLS handshakes listed."
    )
    max_tls_servers: int = Field(
        default=200, ge=1, le=100_000, description="TLS servers (SNI or address:port) listed."
    )
    # evidence needed before a finding is a warning or critical
    min_evidence_events: int = Field(
        default=5,
        ge=1,
        le=1_000_000,
        description="Fewer bad events (retransmissions, unanswered queries, refused connections, ...) than "
        "this give at most an info finding.",
    )
    min_sample_packets: int = Field(
        default=100,
        ge=1,
        le=1_000_000_000,
        description="A rate measured over fewer packets (segments, queries, attempts) is never critical and "
        "says 'based on N packets'.",
    )
    # UDP
    jitter_warning_ms: float = Field(
        default=30.0, gt=0, le=600_000, description="Mean RFC 3550 jitter above this warns."
    )
    udp_stream_min_packets: int = Field(
        default=20, ge=2, le=1_000_000_000, description="UDP flows with fewer packets get no jitter row."
    )
    # ICMP, stalled windows, idle and half-dead connections (issue 14)
    low_window_bytes: int = Field(
        default=8192, ge=1, le=1 << 30, description="An advertised window below this many bytes is 'low'."
    )
    stall_share_pct: float = Field(
        default=10.0,
        gt=0,
        le=100,
        description="A connection whose zero-window stalls last this share of its duration gets a finding.",
    )
    idle_threshold_s: float = Field(
        default=30.0, gt=0, le=31_536_000, description="A gap this long inside a connection makes it idle."
    )
    syn_rto_tolerance_pct: float = Field(
        default=20.0,
        ge=0,
        le=1000,
        description="SYN retransmission intervals further than this from RFC 6298's (1, 2, 4 ... s) differ.",
    )
    pmtu_large_segment_bytes: int = Field(
        default=1000,
        ge=1,
        le=65535,
        description="Data segments at least this large count as 'large' for PMTU black-hole hints.",
    )
    # report caps
    max_connections: int = Field(
        default=500, ge=1, le=100_000, description="Connections listed in the report (worst first)."
    )
    max_flagged_packets: int = Field(
        default=50, ge=0, le=10_000, description="Flagged packets listed per connection."
    )
    detail_connections: int = Field(
        default=10, ge=0, le=100, description="Worst connections that get a time-series drill-down."
    )
    detail_points: int = Field(
        default=2000, ge=10, le=20_000, description="Points per series in a connection drill-down."
    )
    max_talkers: int = Field(default=20, ge=1, le=10_000, description="Top talkers and conversations listed.")
    max_udp_streams: int = Field(default=100, ge=0, le=10_000, description="UDP streams listed.")
    # HTTP and application latency (analyzers/http.py, analyzers/latency.py, diagnose/rules_http.py)
    http_min_requests: int = Field(
        default=5, ge=1, le=1_000_000,
        description="Exchanges a server needs before its latency breakdown can make a warning.",
    )
    http_slow_ms: float = Field(
        default=500.0, gt=0, le=600_000,
        description="A server whose median response (request to last byte) is slower than this warns.",
    )
    max_http_slowest: int = Field(default=50, ge=0, le=10_000, description="Slowest HTTP requests listed.")
    max_http_hosts: int = Field(
        default=100, ge=1, le=10_000, description="HTTP host/path-prefix groups listed."
    )
    max_latency_servers: int = Field(
        default=50, ge=0, le=10_000, description="Servers listed in the latency breakdown."
    )
    max_latency_connections: int = Field(
        default=200, ge=0, le=100_000, description="Connections listed in the per-connection latency table."
    )
    max_dns_examples: int = Field(
        default=50, ge=0, le=10_000, description="Unanswered/error/slowest DNS queries listed."
    )
    max_gaps: int = Field(default=100, ge=0, le=10_000, description="Gaps and bursts listed.")
    max_evidence_frames: int = Field(
        default=20, ge=1, le=1000, description="Frame numbers quoted per finding."
    )
    max_findings: int = Field(default=30, ge=1, le=1000, description="Findings listed.")
    max_tcp_servers: int = Field(
        default=200, ge=1, le=100_000, description="TCP server endpoints listed (most affected first)."
    )
    # ports/services and DNS by domain (issue 14, exports)
    max_services: int = Field(default=20, ge=0, le=10_000, description="Server ports (services) listed.")
    max_dns_domains: int = Field(
        default=50, ge=0, le=10_000, description="DNS registered domains listed (most queries first)."
    )
    # security detectors: their own section (`security:` in YAML), see pcap_analyzer/security/config.py
    security: SecurityConfig = Field(default_factory=SecurityConfig, description="Security detectors.")

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> AnalysisConfig:
        if self.retrans_warning_pct > self.retrans_critical_pct:
            raise ValueError(
                f"retrans_warning_pct ({self.retrans_warning_pct:g}) is above "
                f"retrans_critical_pct ({self.retrans_critical_pct:g}): a warning threshold must not "
                "exceed its critical one"
            )
        return self

    def as_report_dict(self) -> dict[str, float | int | str | bool]:
        """The values as the flat mapping stored in AnalysisResult.config (sections as "section.key")."""
        out: dict[str, float | int | str | bool] = {}
        for key, value in self.model_dump().items():
            if isinstance(value, dict):
                out.update({f"{key}.{k}": v for k, v in value.items()})
            else:
                out[key] = value
        return out


def _format_errors(exc: ValidationError, source: str) -> str:
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown key {key!r}")
        elif err["type"] == "value_error" and key == "(root)":
            parts.append(str(err["ctx"]["error"]) if "ctx" in err else err["msg"])
        else:
            parts.append(f"{key}: {err['msg']}")
    return f"invalid configuration in {source}: " + "; ".join(parts)


def config_from_mapping(values: dict[str, Any], source: str = "mapping") -> AnalysisConfig:
    """Build a config from a mapping; ConfigError names any unknown or invalid key."""
    try:
        return AnalysisConfig.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


def _yaml_error(path: Path, exc: Exception) -> str:
    """One line: the file, the line and column, and what is wrong there (PyYAML's own text is 4+ lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"configuration file {path} is not valid YAML{where}: {problem}"


def load_config(path: str | Path) -> AnalysisConfig:
    """Read an AnalysisConfig from a YAML file (an empty file gives the defaults).

    Example:
        >>> cfg = load_config("config.yaml")
        >>> cfg.gap_threshold_s
    """
    import yaml  # type: ignore[import-untyped]  # only here: most runs read no file

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {p}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_error(p, exc)) from None
    except ValueError as exc:  # an integer of more than 4,300 digits (sys.int_info), bytes that are not UTF-8
        what = "a number with too many digits" if "digits" in str(exc) else str(exc)
        raise ConfigError(f"configuration file {p} cannot be read: {what}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {p} must hold a mapping of key: value")
    return config_from_mapping(data, str(p))


def resolve_config(config: AnalysisConfig | dict[str, Any] | str | Path | None) -> AnalysisConfig:
    """Accept a config object, a mapping, a YAML path or None (defaults)."""
    if config is None:
        return AnalysisConfig()
    if isinstance(config, AnalysisConfig):
        return config
    if isinstance(config, dict):
        return config_from_mapping(config)
    if isinstance(config, str | Path):
        return load_config(config)
    raise ConfigError(f"config must be an AnalysisConfig, a mapping or a path, not {type(config).__name__}")
