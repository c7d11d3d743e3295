"""AnalysisConfig: every threshold and cap the engine uses, with documented defaults."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct, field

from pcap_analyzer.security.config import SecurityConfig

# Same budget as pcap_analyzer.capture.open.CHUNK_BYTES (not imported: loading a config needs no NumPy).
CHUNK_BYTES = 8 << 20


class ConfigError(ValueError):
    """A configuration file or mapping is unreadable or holds an unknown or invalid key."""


class AnalysisConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Thresholds and caps of one analysis. Unknown keys are refused so a typo never goes unnoticed.

    Every value has bounds: a setting that would divide by (nearly) zero or ask for gigabytes of memory is
    refused when the configuration is read (config_from_mapping, load_config), not halfway through an
    analysis; infinite and NaN values fail every bound.
    """

    # reading
    chunk_bytes: Annotated[int, Meta(ge=64 * 1024, le=1 << 30, description="Bytes of records per chunk.")] = (
        CHUNK_BYTES
    )
    # flows
    tcp_idle_split_s: Annotated[
        float,
        Meta(
            ge=0.001,
            le=31_536_000,
            description="A SYN after this much idle time on a 5-tuple starts a new tcp.stream.",
        ),
    ] = 600.0
    # traffic shape
    gap_threshold_s: Annotated[
        float, Meta(ge=0.001, le=86_400, description="Silence longer than this is reported as a gap.")
    ] = 1.0
    burst_factor: Annotated[
        float,
        Meta(
            gt=1,
            le=1_000_000,
            description="A window with burst_factor x the median packets per window is a burst.",
        ),
    ] = 5.0
    burst_bucket_s: Annotated[
        float, Meta(ge=0.001, le=3600, description="Window width used for burst detection.")
    ] = 0.1
    burst_min_packets: Annotated[
        int, Meta(ge=1, le=1_000_000_000, description="A burst window holds at least this many packets.")
    ] = 50
    timeline_bucket_s: Annotated[
        float,
        Meta(
            ge=0.001,
            le=86_400,
            description="Narrowest timeline bucket; it doubles until the capture fits in 2,000 buckets.",
        ),
    ] = 0.01
    # TCP
    slow_handshake_ms: Annotated[
        float, Meta(gt=0, le=600_000, description="SYN to SYN/ACK slower than this is slow.")
    ] = 200.0
    high_rtt_ms: Annotated[
        float, Meta(gt=0, le=600_000, description="ACK RTT p95 above this is reported as high.")
    ] = 150.0
    retrans_warning_pct: Annotated[
        float, Meta(ge=0, le=100, description="Retransmitted segments (%) that warn.")
    ] = 1.0
    retrans_critical_pct: Annotated[
        float, Meta(ge=0, le=100, description="Retransmitted segments (%) that are critical.")
    ] = 5.0
    rto_time_warning_pct: Annotated[
        float,
        Meta(ge=0, le=100, description="Share of a connection's duration spent waiting for RTOs that warns."),
    ] = 10.0
    # DNS
    dns_slow_ms: Annotated[
        float, Meta(gt=0, le=600_000, description="DNS responses slower than this are slow.")
    ] = 100.0
    dns_timeout_s: Annotated[
        float,
        Meta(
            gt=0,
            le=60,
            description="A DNS query with no answer this long is unanswered; a younger one at the end of the "
            "capture is 'no answer seen before the capture ended'.",
        ),
    ] = 5.0
    # TLS (pcap_analyzer/analyzers/tls.py, diagnose/rules_tls.py)
    tls_slow_handshake_ms: Annotated[
        float,
        Meta(
            gt=0,
            le=600_000,
            description="A TLS ClientHello answered by the ServerHello later than this is a slow handshake.",
        ),
    ] = 300.0
    max_tls_examples: Annotated[
        int, Meta(ge=0, le=10_000, description="Failed and slowest TLS handshakes listed.")
    ] = 50
    max_tls_servers: Annotated[
        int, Meta(ge=1, le=100_000, description="TLS servers (SNI or address:port) listed.")
    ] = 200
    # evidence needed before a finding is a warning or critical
    min_evidence_events: Annotated[
        int,
        Meta(
            ge=1,
            le=1_000_000,
            description="Fewer bad events (retransmissions, unanswered queries, refused connections, ...) "
            "than this give at most an info finding.",
        ),
    ] = 5
    min_sample_packets: Annotated[
        int,
        Meta(
            ge=1,
            le=1_000_000_000,
            description="A rate measured over fewer packets (segments, queries, attempts) is never critical "
            "and says 'based on N packets'.",
        ),
    ] = 100
    # UDP
    jitter_warning_ms: Annotated[
        float, Meta(gt=0, le=600_000, description="Mean RFC 3550 jitter above this warns.")
    ] = 30.0
    udp_stream_min_packets: Annotated[
        int, Meta(ge=2, le=1_000_000_000, description="UDP flows with fewer packets get no jitter row.")
    ] = 20
    # ICMP, stalled windows, idle and half-dead connections (issue 14)
    low_window_bytes: Annotated[
        int, Meta(ge=1, le=1 << 30, description="An advertised window below this many bytes is 'low'.")
    ] = 8192
    stall_share_pct: Annotated[
        float,
        Meta(
            gt=0,
            le=100,
            description="A connection whose zero-window stalls last this share of its duration gets a "
            "finding.",
        ),
    ] = 10.0
    idle_threshold_s: Annotated[
        float, Meta(gt=0, le=31_536_000, description="A gap this long inside a connection makes it idle.")
    ] = 30.0
    syn_rto_tolerance_pct: Annotated[
        float,
        Meta(
            ge=0,
            le=1000,
            description="SYN retransmission intervals further than this from RFC 6298's (1, 2, 4 ... s) "
            "differ.",
        ),
    ] = 20.0
    pmtu_large_segment_bytes: Annotated[
        int,
        Meta(
            ge=1,
            le=65535,
            description="Data segments at least this large count as 'large' for PMTU black-hole hints.",
        ),
    ] = 1000
    # report caps
    max_connections: Annotated[
        int, Meta(ge=1, le=100_000, description="Connections listed in the report (worst first).")
    ] = 500
    max_flagged_packets: Annotated[
        int, Meta(ge=0, le=10_000, description="Flagged packets listed per connection.")
    ] = 50
    detail_connections: Annotated[
        int, Meta(ge=0, le=100, description="Worst connections that get a time-series drill-down.")
    ] = 10
    detail_points: Annotated[
        int, Meta(ge=10, le=20_000, description="Points per series in a connection drill-down.")
    ] = 2000
    max_talkers: Annotated[
        int, Meta(ge=1, le=10_000, description="Top talkers and conversations listed.")
    ] = 20
    max_udp_streams: Annotated[int, Meta(ge=0, le=10_000, description="UDP streams listed.")] = 100
    # HTTP and application latency (analyzers/http.py, analyzers/latency.py, diagnose/rules_http.py)
    http_min_requests: Annotated[
        int,
        Meta(
            ge=1,
            le=1_000_000,
            description="Exchanges a server needs before its latency breakdown can make a warning.",
        ),
    ] = 5
    http_slow_ms: Annotated[
        float,
        Meta(
            gt=0,
            le=600_000,
            description="A server whose median response (request to last byte) is slower than this warns.",
        ),
    ] = 500.0
    max_http_slowest: Annotated[int, Meta(ge=0, le=10_000, description="Slowest HTTP requests listed.")] = 50
    max_http_hosts: Annotated[
        int, Meta(ge=1, le=10_000, description="HTTP host/path-prefix groups listed.")
    ] = 100
    max_latency_servers: Annotated[
        int, Meta(ge=0, le=10_000, description="Servers listed in the latency breakdown.")
    ] = 50
    max_latency_connections: Annotated[
        int, Meta(ge=0, le=100_000, description="Connections listed in the per-connection latency table.")
    ] = 200
    max_dns_examples: Annotated[
        int, Meta(ge=0, le=10_000, description="Unanswered/error/slowest DNS queries listed.")
    ] = 50
    max_gaps: Annotated[int, Meta(ge=0, le=10_000, description="Gaps and bursts listed.")] = 100
    max_evidence_frames: Annotated[
        int, Meta(ge=1, le=1000, description="Frame numbers quoted per finding.")
    ] = 20
    max_findings: Annotated[int, Meta(ge=1, le=1000, description="Findings listed.")] = 30
    max_tcp_servers: Annotated[
        int, Meta(ge=1, le=100_000, description="TCP server endpoints listed (most affected first).")
    ] = 200
    # ports/services and DNS by domain (issue 14, exports)
    max_services: Annotated[int, Meta(ge=0, le=10_000, description="Server ports (services) listed.")] = 20
    max_dns_domains: Annotated[
        int, Meta(ge=0, le=10_000, description="DNS registered domains listed (most queries first).")
    ] = 50
    # security detectors: their own section (`security:` in YAML), see pcap_analyzer/security/config.py
    security: Annotated[SecurityConfig, Meta(description="Security detectors.")] = field(
        default_factory=SecurityConfig
    )

    def __post_init__(self) -> None:
        if self.retrans_warning_pct > self.retrans_critical_pct:
            raise ValueError(
                f"retrans_warning_pct ({self.retrans_warning_pct:g}) is above "
                f"retrans_critical_pct ({self.retrans_critical_pct:g}): a warning threshold must not "
                "exceed its critical one"
            )

    def as_report_dict(self) -> dict[str, float | int | str | bool]:
        """The values as the flat mapping stored in AnalysisResult.config (sections as "section.key")."""
        out: dict[str, float | int | str | bool] = {}
        for key, value in msgspec.to_builtins(self).items():
            if isinstance(value, dict):
                out.update({f"{key}.{k}": v for k, v in value.items()})
            else:
                out[key] = value
        return out


_TYPE_WORDS = {
    "`int`": "an integer",
    "`float`": "a number",
    "`bool`": "true or false",
    "`object`": "a mapping",
}


def _format_error(exc: msgspec.ValidationError, source: str) -> str:
    """One line naming the key: msgspec's "Expected `int` >= 1 - at `$.max_connections`" becomes
    "max_connections: expected an integer >= 1"."""
    text, _, where = str(exc).partition(" - at `$")
    key = where.rstrip("`").lstrip(".")
    if text.startswith("Object contains unknown field `"):
        unknown = text.removeprefix("Object contains unknown field `").rstrip("`")
        problem = f"unknown key {(key + '.' if key else '') + unknown!r}"
    else:
        for type_name, words in _TYPE_WORDS.items():
            text = text.replace(type_name, words)
        problem = f"{key}: {text[0].lower()}{text[1:]}" if key else text
    return f"invalid configuration in {source}: {problem}"


def _flat_items(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in values.items():
        if isinstance(value, dict):
            items += _flat_items(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


def config_from_mapping(values: dict[str, Any], source: str = "mapping") -> AnalysisConfig:
    """Build a config from a mapping; ConfigError names any unknown or invalid key."""
    for key, value in _flat_items(values):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"invalid configuration in {source}: {key}: expected a finite number")
    try:
        return msgspec.convert(values, AnalysisConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_format_error(exc, source)) from None


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
