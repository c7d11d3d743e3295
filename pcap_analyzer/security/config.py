"""SecurityConfig: the thresholds of the security detectors (the `security:` section of `--config`).

Kept apart from pcap_analyzer.config so the detectors' settings stay in one place; loading it needs no NumPy.
docs/configuration.md gives each default and why it was chosen.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct


class SecurityConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Thresholds of the security detectors. Unknown keys are refused, like the rest of the config."""

    enabled: Annotated[bool, Meta(description="Run the security detectors.")] = True
    # port scans
    scan_window_s: Annotated[
        float, Meta(gt=0, le=86_400, description="Probes counted together within this window.")
    ] = 60.0
    scan_min_ports: Annotated[
        int, Meta(ge=2, le=65_535, description="Distinct ports probed on one host: vertical scan.")
    ] = 20
    scan_min_hosts: Annotated[
        int, Meta(ge=2, le=1_000_000, description="Distinct hosts probed on one port: horizontal scan.")
    ] = 20
    scan_min_failed_share: Annotated[
        float, Meta(ge=0, le=1, description="Share of the probes unanswered or refused.")
    ] = 0.7
    # floods
    syn_flood_min_syns: Annotated[
        int, Meta(ge=1, le=100_000_000, description="SYNs without a completed handshake to one service.")
    ] = 500
    syn_flood_min_rate: Annotated[
        float, Meta(gt=0, le=1e9, description="SYNs per second to that service.")
    ] = 100.0
    syn_flood_max_completed_share: Annotated[
        float, Meta(ge=0, le=1, description="Share of connections to it that completed their handshake.")
    ] = 0.2
    udp_flood_min_packets: Annotated[
        int, Meta(ge=1, le=1_000_000_000, description="UDP packets to one host.")
    ] = 10_000
    udp_flood_min_rate: Annotated[float, Meta(gt=0, le=1e9, description="UDP packets per second.")] = 2_000.0
    udp_flood_max_reply_share: Annotated[
        float, Meta(ge=0, le=1, description="Packets answered back, as a share of those sent.")
    ] = 0.05
    icmp_flood_min_packets: Annotated[
        int, Meta(ge=1, le=1_000_000_000, description="ICMP echo requests to one host.")
    ] = 1_000
    icmp_flood_min_rate: Annotated[
        float, Meta(gt=0, le=1e9, description="ICMP echo requests per second.")
    ] = 100.0
    # brute force
    brute_min_attempts: Annotated[
        int, Meta(ge=2, le=1_000_000, description="Short connections to one authentication service.")
    ] = 20
    brute_window_s: Annotated[
        float, Meta(gt=0, le=86_400, description="Attempts counted together within this window.")
    ] = 600.0
    brute_max_duration_s: Annotated[
        float, Meta(gt=0, le=3_600, description="A connection this short or shorter is an attempt.")
    ] = 30.0
    brute_max_bytes: Annotated[
        int, Meta(ge=0, le=1 << 40, description="An attempt carries at most this much payload.")
    ] = 20_000
    brute_min_failed_share: Annotated[
        float,
        Meta(ge=0, le=1, description="Share of the source's connections to the service that are attempts."),
    ] = 0.8
    # DNS tunnelling
    dns_long_name: Annotated[
        int, Meta(ge=1, le=253, description="Characters left of the registered domain for a long name.")
    ] = 40
    dns_min_entropy: Annotated[
        float, Meta(ge=0, le=8, description="Bits per character of that part for a high-entropy name.")
    ] = 3.5
    dns_tunnel_min_queries: Annotated[
        int, Meta(ge=1, le=100_000_000, description="Suspicious queries (long and random, TXT or NULL).")
    ] = 50
    dns_tunnel_min_unique: Annotated[
        int, Meta(ge=1, le=1_000_000, description="Distinct names among those suspicious queries.")
    ] = 30
    dns_tunnel_min_share: Annotated[
        float,
        Meta(ge=0, le=1, description="Share of the client's queries to the domain that are suspicious."),
    ] = 0.5
    # beaconing
    beacon_min_connections: Annotated[
        int, Meta(ge=3, le=1_000_000, description="Connections from one host to one service.")
    ] = 10
    beacon_min_interval_s: Annotated[
        float, Meta(gt=0, le=86_400, description="Mean interval between them at least this.")
    ] = 10.0
    beacon_max_jitter: Annotated[
        float, Meta(ge=0, le=10, description="Standard deviation / mean of the intervals at most this.")
    ] = 0.1
    beacon_max_size_cv: Annotated[
        float, Meta(ge=0, le=10, description="Standard deviation / mean of their bytes at most this.")
    ] = 0.2
    # exfiltration
    exfil_min_bytes: Annotated[
        int, Meta(ge=1, le=1 << 50, description="Payload bytes an internal host uploads.")
    ] = 100 * 1024 * 1024
    exfil_min_ratio: Annotated[
        float, Meta(ge=1, le=1e9, description="Upload / download with that external address.")
    ] = 10.0
    # lateral movement
    lateral_min_hosts: Annotated[
        int, Meta(ge=2, le=1_000_000, description="Internal hosts reached over SMB/RDP/WinRM/RPC.")
    ] = 5
    lateral_window_s: Annotated[
        float, Meta(gt=0, le=86_400, description="Hosts counted together within this window.")
    ] = 600.0
    # report
    max_findings: Annotated[int, Meta(ge=1, le=10_000, description="Security findings listed.")] = 50
    max_addresses: Annotated[
        int, Meta(ge=1, le=10_000, description="Sources and targets named per finding.")
    ] = 20
