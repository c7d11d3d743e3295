"""SecurityConfig: the thresholds of the security detectors (the `security:` section of `--config`).

Kept apart from pcap_analyzer.config so the detectors' settings stay in one place; loading it needs no NumPy.
docs/configuration.md gives each default and why it was chosen.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SecurityConfig(BaseModel):
    """Thresholds of the security detectors. Unknown keys are refused, like the rest of the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="Run the security detectors.")
    # port scans
    scan_window_s: float = Field(
        default=60.0, gt=0, le=86_400, description="Probes counted together within this window."
    )
    scan_min_ports: int = Field(
        default=20, ge=2, le=65_535, description="Distinct ports probed on one host: vertical scan."
    )
    scan_min_hosts: int = Field(
        default=20, ge=2, le=1_000_000, description="Distinct hosts probed on one port: horizontal scan."
    )
    scan_min_failed_share: float = Field(
        default=0.7, ge=0, le=1, description="Share of the probes unanswered or refused."
    )
    # floods
    syn_flood_min_syns: int = Field(
        default=500, ge=1, le=100_000_000, description="SYNs without a completed handshake to one service."
    )
    syn_flood_min_rate: float = Field(
        default=100.0, gt=0, le=1e9, description="SYNs per second to that service."
    )
    syn_flood_max_completed_share: float = Field(
        default=0.2, ge=0, le=1, description="Share of connections to it that completed their handshake."
    )
    udp_flood_min_packets: int = Field(
        default=10_000, ge=1, le=1_000_000_000, description="UDP packets to one host."
    )
    udp_flood_min_rate: float = Field(default=2_000.0, gt=0, le=1e9, description="UDP packets per second.")
    udp_flood_max_reply_share: float = Field(
        default=0.05, ge=0, le=1, description="Packets answered back, as a share of those sent."
    )
    icmp_flood_min_packets: int = Field(
        default=1_000, ge=1, le=1_000_000_000, description="ICMP echo requests to one host."
    )
    icmp_flood_min_rate: float = Field(
        default=100.0, gt=0, le=1e9, description="ICMP echo requests per second."
    )
    # brute force
    brute_min_attempts: int = Field(
        default=20, ge=2, le=1_000_000, description="Short connections to one authentication service."
    )
    brute_window_s: float = Field(
        default=600.0, gt=0, le=86_400, description="Attempts counted together within this window."
    )
    brute_max_duration_s: float = Field(
        default=30.0, gt=0, le=3_600, description="A connection this short or shorter is an attempt."
    )
    brute_max_bytes: int = Field(
        default=20_000, ge=0, le=1 << 40, description="An attempt carries at most this much payload."
    )
    brute_min_failed_share: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="Share of the source's connections to the service that are attempts.",
    )
    # DNS tunnelling
    dns_long_name: int = Field(
        default=40, ge=1, le=253, description="Characters left of the registered domain for a long name."
    )
    dns_min_entropy: float = Field(
        default=3.5, ge=0, le=8, description="Bits per character of that part for a high-entropy name."
    )
    dns_tunnel_min_queries: int = Field(
        default=50, ge=1, le=100_000_000, description="Suspicious queries (long and random, TXT or NULL)."
    )
    dns_tunnel_min_unique: int = Field(
        default=30, ge=1, le=1_000_000, description="Distinct names among those suspicious queries."
    )
    dns_tunnel_min_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of the client's queries to the domain that are suspicious.",
    )
    # beaconing
    beacon_min_connections: int = Field(
        default=10, ge=3, le=1_000_000, description="Connections from one host to one service."
    )
    beacon_min_interval_s: float = Field(
        default=10.0, gt=0, le=86_400, description="Mean interval between them at least this."
    )
    beacon_max_jitter: float = Field(
        default=0.1, ge=0, le=10, description="Standard deviation / mean of the intervals at most this."
    )
    beacon_max_size_cv: float = Field(
        default=0.2, ge=0, le=10, description="Standard deviation / mean of their bytes at most this."
    )
    # exfiltration
    exfil_min_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, le=1 << 50, description="Payload bytes an internal host uploads."
    )
    exfil_min_ratio: float = Field(
        default=10.0, ge=1, le=1e9, description="Upload / download with that external address."
    )
    # lateral movement
    lateral_min_hosts: int = Field(
        default=5, ge=2, le=1_000_000, description="Internal hosts reached over SMB/RDP/WinRM/RPC."
    )
    lateral_window_s: float = Field(
        default=600.0, gt=0, le=86_400, description="Hosts counted together within this window."
    )
    # report
    max_findings: int = Field(default=50, ge=1, le=10_000, description="Security findings listed.")
    max_addresses: int = Field(
        default=20, ge=1, le=10_000, description="Sources and targets named per finding."
    )
