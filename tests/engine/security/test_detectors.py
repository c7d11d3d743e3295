"""Each security detector fires on its own attack capture, naming the right source and target, and no
other detector fires there."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from scapy.layers.inet import TCP
from scapy.layers.inet6 import IPv6

from pcap_analyzer import analyze
from pcap_analyzer.report.model import SecurityFinding
from tests.engine.security import attacks as a


def _findings(path: Path, **security: object) -> list[SecurityFinding]:
    result = analyze(path, config={"security": security} if security else None)
    return result.security.findings


def _only(findings: list[SecurityFinding], kind: str) -> SecurityFinding:
    assert [f.kind for f in findings] == [kind], [(f.kind, f.title) for f in findings]
    return findings[0]


@pytest.mark.parametrize("flavour", ["SYN", "FIN", "NULL", "XMAS"])
def test_vertical_port_scan_and_its_flavour(tmp_path: Path, flavour: str) -> None:
    f = _only(_findings(a.port_scan(tmp_path / "scan.pcap", flavour)), "port_scan")
    assert f.sources == [a.ATTACKER] and f.targets == [a.VICTIM]
    assert f.facts["scan"] == "vertical" and f.facts["flavour"] == flavour and f.facts["ports"] == 100
    assert f.evidence.count == 100 and f.severity == "warning"
    if flavour == "SYN":
        assert (f.facts["refused"], f.facts["unanswered"]) == (95, 0)
    else:  # open ports stay silent to FIN/NULL/XMAS probes
        assert (f.facts["refused"], f.facts["unanswered"]) == (95, 5)
    assert f.evidence.filter.startswith(f"ip.src == {a.ATTACKER} && ip.dst == {a.VICTIM} && ")
    assert len(f.evidence.frames) == 20 and f.evidence.frames[0] == 1


def test_horizontal_sweep(tmp_path: Path) -> None:
    f = _only(_findings(a.sweep(tmp_path / "sweep.pcap")), "port_scan")
    assert f.sources == [a.ATTACKER] and f.facts["scan"] == "horizontal" and f.facts["hosts"] == 40
    assert f.targets[:2] == ["10.0.1.1", "10.0.1.2"] and f.facts["targets_total"] == 40
    assert (f.facts["refused"], f.facts["unanswered"]) == (4, 36)
    assert "tcp.dstport == 445" in f.evidence.filter


def test_syn_flood(tmp_path: Path) -> None:
    f = _only(_findings(a.syn_flood(tmp_path / "flood.pcap")), "syn_flood")
    assert f.targets == [a.VICTIM] and f.severity == "critical"
    assert f.evidence.count == 1500 and f.facts["port"] == 80 and f.facts["completed_share"] == 0
    assert f.facts["sources_total"] > 1000 and all(s.startswith("198.51.") for s in f.sources)
    assert (
        f.evidence.filter
        == f"ip.dst == {a.VICTIM} && tcp.dstport == 80 && tcp.flags.syn == 1 && tcp.flags.ack == 0"
    )


def test_udp_flood(tmp_path: Path) -> None:
    f = _only(_findings(a.udp_flood(tmp_path / "udp.pcap")), "udp_flood")
    assert f.sources == [a.ATTACKER] and f.targets == [a.VICTIM] and f.evidence.count == 12_000
    assert 5900 < f.facts["rate_per_s"] < 6100  # 12,000 packets in 1.9998 s


def test_icmp_flood(tmp_path: Path) -> None:
    f = _only(_findings(a.icmp_flood(tmp_path / "icmp.pcap")), "icmp_flood")
    assert f.sources == [a.ATTACKER] and f.targets == [a.VICTIM] and f.evidence.count == 1500
    assert f.evidence.filter == f"ip.dst == {a.VICTIM} && icmp.type == 8"


def test_ssh_brute_force(tmp_path: Path) -> None:
    f = _only(_findings(a.brute_force(tmp_path / "brute.pcap")), "brute_force")
    assert f.sources == [a.ATTACKER] and f.targets == [a.VICTIM]
    assert f.evidence.count == 30 and f.facts["service"] == "SSH" and f.facts["reset_by_server"] == 30


def test_dns_tunnel(tmp_path: Path) -> None:
    f = _only(_findings(a.dns_tunnel(tmp_path / "tunnel.pcap")), "dns_tunnel")
    assert f.sources == [a.CLIENT] and f.targets == ["example-c2.com"]
    assert f.facts["queries"] == 120 and f.facts["unique_names"] == 120 and f.facts["txt_null"] == 120
    assert f.evidence.frames[0] == 1 and 'dns.qry.name contains "example-c2.com"' in f.evidence.filter


def test_beaconing(tmp_path: Path) -> None:
    f = _only(_findings(a.beacon(tmp_path / "beacon.pcap")), "beaconing")
    assert f.sources == [a.CLIENT] and f.targets == [a.EXTERNAL] and f.severity == "warning"
    assert f.evidence.count == 12 and abs(float(f.facts["interval_s"]) - 60) < 1


def test_exfiltration(tmp_path: Path) -> None:
    f = _only(_findings(a.exfiltration(tmp_path / "exfil.pcap")), "exfiltration")
    assert f.sources == [a.CLIENT] and f.targets == ["192.0.2.99"]
    assert int(f.facts["bytes_up"]) == 120 * (1 << 20) // 1460 * 1460 and f.facts["bytes_down"] == 0


def test_lateral_movement(tmp_path: Path) -> None:
    f = _only(_findings(a.lateral_movement(tmp_path / "lateral.pcap")), "lateral_movement")
    assert f.sources == [a.CLIENT] and f.targets == [f"10.0.2.{10 + i}" for i in range(6)]
    assert f.facts["hosts"] == 6 and f.facts["services"] == "SMB"


WRITERS: list[Callable[[Path], Path]] = [a.port_scan, a.sweep, a.brute_force, a.beacon, a.lateral_movement]


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__)
def test_thresholds_come_from_the_config(tmp_path: Path, writer: Callable[[Path], Path]) -> None:
    path = writer(tmp_path / "c.pcap")
    strict = {
        "scan_min_ports": 200,
        "scan_min_hosts": 200,
        "brute_min_attempts": 200,
        "beacon_min_connections": 200,
        "lateral_min_hosts": 200,
    }
    assert _findings(path, **strict) == []
    assert _findings(path, enabled=False) == []


def test_results_do_not_depend_on_chunk_size(tmp_path: Path) -> None:
    # 300 ordinary queries under the domain before the tunnel starts (not counted: the group starts at the
    # first suspicious query), 200 interleaved with it (counted)
    path = a.dns_tunnel(tmp_path / "tunnel.pcap", queries=2000, ordinary=300)
    small = analyze(path, config={"chunk_bytes": 64 * 1024}).security
    assert small == analyze(path).security
    f = _only(small.findings, "dns_tunnel")
    assert f.facts["unique_names"] == 2000 and f.evidence.count == 2000 and f.facts["queries"] == 2200


def test_ipv6_scan(tmp_path: Path) -> None:
    tr = a.Trace()
    for i in range(30):  # a SYN scan of 30 ports, all refused
        tr.add(
            i * 0.01, IPv6(src="fd00::66", dst="fd00::9") / TCP(sport=40000 + i, dport=1000 + i, flags="S")
        )
        tr.add(
            i * 0.01 + 0.001,
            IPv6(src="fd00::9", dst="fd00::66") / TCP(sport=1000 + i, dport=40000 + i, flags="RA"),
        )
    f = _only(_findings(tr.write(tmp_path / "scan6.pcap")), "port_scan")
    assert f.sources == ["fd00::66"] and f.targets == ["fd00::9"] and f.facts["refused"] == 30
    assert f.evidence.filter.startswith("ipv6.src == fd00::66 && ipv6.dst == fd00::9 && tcp.flags.syn == 1")
