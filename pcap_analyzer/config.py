"""AnalysisConfig: every threshold and cap the engine uses, with documented defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pcap_analyzer.security.config import SecurityConfig

# Same budget as pcap_analyzer.capture.open.CHUNK_BYTES (not imported: loading a config needs no NumPy).
CHUNK_BYTES = 8 << 20


class ConfigError(ValueError):
    """A configuration file or mapping is unreadable or holds an unknown or invalid key."""


class AnalysisConfig(BaseModel):
    """Thresholds and caps of one analysis. Unknown keys are refused so a typo never goes unnoticed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # reading
    chunk_bytes: int = Field(default=CHUNK_BYTES, ge=64 * 1024, description="Bytes of records per chunk.")
    # flows
    tcp_idle_split_s: float = Field(
        default=600.0,
        gt=0,
        description="A SYN after this much idle time on a 5-tuple starts a new tcp.stream.",
    )
    # traffic shape
    gap_threshold_s: float = Field(
        default=1.0, gt=0, description="Silence longer than this is reported as a gap."
    )
    burst_factor: float = Field(
        default=5.0,
        gt=1,
        description="A window with burst_factor x the median packets per window is a burst.",
    )
    burst_bucket_s: float = Field(default=0.1, gt=0, description="Window width used for burst detection.")
    burst_min_packets: int = Field(
        default=50, ge=1, description="A burst window holds at least this many packets."
    )
    timeline_bucket_s: float = Field(default=1.0, gt=0, description="Bucket width of the timeline series.")
    # TCP
    slow_handshake_ms: float = Field(
        default=200.0, gt=0, description="SYN to SYN/ACK slower than this is slow."
    )
    high_rtt_ms: float = Field(default=150.0, gt=0, description="ACK RTT p95 above this is reported as high.")
    retrans_warning_pct: float = Field(default=1.0, ge=0, description="Retransmitted segments (%) that warn.")
    retrans_critical_pct: float = Field(
        default=5.0, ge=0, description="Retransmitted segments (%) that are critical."
    )
    rto_time_warning_pct: float = Field(
        default=10.0, ge=0, description="Share of a connection's duration spent waiting for RTOs that warns."
    )
    # DNS
    dns_slow_ms: float = Field(default=100.0, gt=0, description="DNS responses slower than this are slow.")
    # UDP
    jitter_warning_ms: float = Field(default=30.0, gt=0, description="Mean RFC 3550 jitter above this warns.")
    udp_stream_min_packets: int = Field(
        default=20, ge=2, description="UDP flows with fewer packets get no jitter row."
    )
    # report caps
    max_connections: int = Field(
        default=500, ge=1, description="Connections listed in the report (worst first)."
    )
    max_flagged_packets: int = Field(default=50, ge=0, description="Flagged packets listed per connection.")
    detail_connections: int = Field(
        default=10, ge=0, description="Worst connections that get a time-series drill-down."
    )
    detail_points: int = Field(
        default=2000, ge=10, description="Points per series in a connection drill-down."
    )
    max_talkers: int = Field(default=20, ge=1, description="Top talkers and conversations listed.")
    max_udp_streams: int = Field(default=100, ge=0, description="UDP streams listed.")
    max_dns_examples: int = Field(
        default=50, ge=0, description="Unanswered/error/slowest DNS queries listed."
    )
    max_gaps: int = Field(default=100, ge=0, description="Gaps and bursts listed.")
    max_evidence_frames: int = Field(default=20, ge=1, description="Frame numbers quoted per finding.")
    max_findings: int = Field(default=30, ge=1, description="Findings listed.")
    # security detectors: their own section (`security:` in YAML), see pcap_analyzer/security/config.py
    security: SecurityConfig = Field(default_factory=SecurityConfig, description="Security detectors.")

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
        else:
            parts.append(f"{key}: {err['msg']}")
    return f"invalid configuration in {source}: " + "; ".join(parts)


def config_from_mapping(values: dict[str, Any], source: str = "mapping") -> AnalysisConfig:
    """Build a config from a mapping; ConfigError names any unknown or invalid key."""
    try:
        return AnalysisConfig.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None


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
        raise ConfigError(f"configuration file {p} is not valid YAML: {exc}") from None
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
