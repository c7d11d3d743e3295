"""SecurityCollector: the security view's streaming part (per chunk) and its one entry point at the end.

Per chunk it keeps only what the flow table and the TCP report do not hold: for the conversations that
have any, the probe flavours their initiator sent (TCP packets without ACK carrying FIN, no flag, or
FIN+PSH+URG) and their ICMP echo requests, both from vectorised masks over the chunk and kept sparse
(deduplicated per chunk); and the DNS query names' features (`dns.py`). `finalize` joins them with the
flow table and the TCP report and runs every detector.
"""

from __future__ import annotations

import numpy as np

from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.packets import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, Undecoded
from pcap_analyzer.flows.model import FlowTable
from pcap_analyzer.report.model import SecurityFinding, SecurityReport
from pcap_analyzer.security.beacons import detect_beaconing
from pcap_analyzer.security.brute import detect_brute_force
from pcap_analyzer.security.config import SecurityConfig
from pcap_analyzer.security.conns import (
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    ODD_FIN,
    ODD_NULL,
    ODD_XMAS,
    build_conns,
)
from pcap_analyzer.security.dns import MAX_GROUPS, DnsTunnelState, detect_dns_tunnels
from pcap_analyzer.security.exfil import detect_exfiltration
from pcap_analyzer.security.finding import SEVERITY_RANK, Caps
from pcap_analyzer.security.floods import detect_rate_floods, detect_syn_floods
from pcap_analyzer.security.lateral import detect_lateral_movement
from pcap_analyzer.security.scans import detect_scans
from pcap_analyzer.tcp.report import TcpReport

DETECTORS = (
    "port_scan",
    "syn_flood",
    "udp_flood",
    "icmp_flood",
    "brute_force",
    "dns_tunnel",
    "beaconing",
    "exfiltration",
    "lateral_movement",
)
_CONTROL = TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG
ICMP_ECHO, ICMPV6_ECHO = 8, 128


class SecurityCollector:
    """Streaming part of the security detectors; `update` per chunk, `finalize` once.

    Example:
        >>> sec = SecurityCollector(SecurityConfig())
        >>> sec.update(batch)  # for each chunk  # doctest: +SKIP
        >>> report = sec.finalize(flow_table, tcp_report)  # doctest: +SKIP
    """

    def __init__(self, cfg: SecurityConfig, *, max_frames: int = 20) -> None:
        self.cfg = cfg
        self.caps = Caps(addresses=cfg.max_addresses, frames=max_frames)
        # sparse per-conversation marks, deduplicated per chunk: (conversation, flavour bits / echo count)
        self._odd: list[tuple[np.ndarray, np.ndarray]] = []
        self._echo: list[tuple[np.ndarray, np.ndarray]] = []
        self.dns = DnsTunnelState(cfg)

    def update(self, batch: PacketBatch) -> None:
        """Record the chunk's probe flavours, echo requests and DNS query names."""
        if not self.cfg.enabled:
            return
        p, f = batch.packets, batch.flows
        first_dir = (f.direction == 0) & (f.conv >= 0) & (p.undecoded == Undecoded.OK)
        control = p.tcp_flags & _CONTROL
        tcp = first_dir & (p.ip_proto == IPPROTO_TCP)
        odd = np.zeros(len(p), np.uint8)
        odd[tcp & (control == TCP_FIN)] = ODD_FIN
        odd[tcp & (control == 0)] = ODD_NULL
        odd[tcp & (control == (TCP_FIN | TCP_PSH | TCP_URG))] = ODD_XMAS
        rows = np.flatnonzero(odd)
        if rows.size:
            key = np.unique(f.conv[rows] * 8 + odd[rows])
            self._odd.append((key >> 3, (key & 7).astype(np.uint8)))
        echo = np.flatnonzero(
            first_dir
            & (
                ((p.ip_proto == IPPROTO_ICMP) & (p.icmp_type == ICMP_ECHO))
                | ((p.ip_proto == IPPROTO_ICMPV6) & (p.icmp_type == ICMPV6_ECHO))
            )
        )
        if echo.size:
            self._echo.append(np.unique(f.conv[echo], return_counts=True))
        self.dns.update(p)

    def finalize(self, table: FlowTable, report: TcpReport | None) -> SecurityReport:
        """Run every detector over the conversations; findings most severe first, then by time."""
        if not self.cfg.enabled:
            return SecurityReport(enabled=False)
        cfg, caps = self.cfg, self.caps
        n = len(table)
        odd = np.zeros(n, np.uint8)
        for conv, bits in self._odd:
            np.bitwise_or.at(odd, conv, bits)
        echo = np.zeros(n, np.int64)
        for conv, count in self._echo:
            np.add.at(echo, conv, count)
        conns = build_conns(table, report, odd, echo)
        findings: list[SecurityFinding] = []
        findings += detect_scans(conns, cfg, caps)
        findings += detect_syn_floods(conns, cfg, caps)
        findings += detect_rate_floods(conns, cfg, caps)
        findings += detect_brute_force(conns, cfg, caps)
        findings += detect_dns_tunnels(self.dns, cfg, caps)
        findings += detect_beaconing(conns, cfg, caps)
        findings += detect_exfiltration(conns, cfg, caps)
        findings += detect_lateral_movement(conns, cfg, caps)
        findings.sort(key=lambda x: (SEVERITY_RANK.get(x.severity, 9), x.first_ts, x.kind, x.title))
        return SecurityReport(enabled=True, detectors=list(DETECTORS), findings=findings[: cfg.max_findings])

    def limits(self) -> dict[str, int]:
        return {"security_findings": self.cfg.max_findings, "security_dns_groups": MAX_GROUPS}
