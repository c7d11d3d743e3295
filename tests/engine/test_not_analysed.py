"""Nothing analysed silently (issue 16 item 2) and the capture duration as max - min (item 5).

Captures are built with scapy, so the truth is known by construction: which packets the engine cannot
decode, and the timestamps.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.dot11 import Dot11, Dot11QoS, RadioTap
from scapy.layers.inet import IP, TCP
from scapy.layers.ipsec import ESP
from scapy.layers.l2 import ARP, LLC, STP, Dot3, Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from pcap_analyzer.api import analyze
from pcap_analyzer.report.html import render_html

MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def _tcp(i: int) -> Packet:
    return (
        Ether(src=MAC_A, dst=MAC_B)
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / TCP(sport=40000, dport=80, flags="A", seq=i)
    )


def _write(path: Path, packets: list[Packet], times: list[float] | None = None) -> Path:
    for k, p in enumerate(packets):
        p.time = times[k] if times else 1_700_000_000 + k * 0.01
    wrpcap(str(path), packets)
    return path


def test_not_analysed_packets_are_counted_by_protocol_and_reason(tmp_path: Path) -> None:
    esp = Ether(src=MAC_A, dst=MAC_B) / IP(src="10.0.0.1", dst="10.0.0.9") / ESP(spi=7, seq=1, data=b"x" * 40)
    stp = Dot3(src=MAC_A, dst="01:80:c2:00:00:00") / LLC() / STP()
    lldp = Ether(src=MAC_A, dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(b"\x02\x07\x04" + b"\x00" * 20)
    arp = Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="10.0.0.2")
    packets = [_tcp(i) for i in range(80)] + [esp] * 12 + [stp] * 5 + [lldp] * 2 + [arp] * 3
    r = analyze(_write(tmp_path / "mixed.pcap", packets))
    c = r.capture
    assert c.packets == 102
    assert c.not_analysed_packets == 19  # ARP is counted in the protocol hierarchy, not here
    got = [(g.link_type, g.protocol, g.reason, g.packets) for g in c.not_analysed]
    assert got == [
        ("ETHERNET", "ESP", "other_l4", 12),
        ("ETHERNET", "802.3/LLC", "non_ip", 5),
        ("ETHERNET", "LLDP", "non_ip", 2),
    ]
    assert c.not_analysed[0].bytes == 12 * len(esp)
    finding = next(f for f in r.findings if f.id == "capture.not_analysed")
    assert finding.severity == "info"  # 19 %: said, but the analysed majority keeps its score
    assert finding.title.startswith("19% of packets (19 of 102) were not analysed: 12% ESP")
    assert "capture.not_analysed" not in [x.code for x in r.health.reasons]


def test_a_capture_mostly_not_analysed_does_not_score_100(tmp_path: Path) -> None:
    wifi = [
        RadioTap()
        / Dot11(type=2, subtype=8, addr1=MAC_B, addr2=MAC_A, addr3=MAC_B, FCfield="protected")
        / Dot11QoS()
        / Raw(b"\x00" * 60)
        for _ in range(150)
    ]
    r = analyze(_write(tmp_path / "wifi.pcap", wifi))
    assert r.capture.link_types == ["IEEE802_11_RADIOTAP"]
    assert r.capture.not_analysed_packets == 150
    finding = next(f for f in r.findings if f.id == "capture.not_analysed")
    assert finding.severity == "warning"
    assert "100% 802.11 encrypted data (not IP)" in finding.title
    assert r.health.score is not None and r.health.score <= 50
    assert [x.code for x in r.health.reasons] == ["capture.not_analysed"]
    page = render_html(r)
    assert "Packets not analysed (150 of 150)" in page
    assert (
        "<td>IEEE802_11_RADIOTAP</td><td>802.11 encrypted data</td><td>non_ip</td><td>150</td>"
        in page
    )


def test_a_small_share_not_analysed_makes_no_finding(tmp_path: Path) -> None:
    stp = Dot3(src=MAC_A, dst="01:80:c2:00:00:00") / LLC() / STP()
    r = analyze(_write(tmp_path / "few.pcap", [_tcp(i) for i in range(99)] + [stp]))
    assert r.capture.not_analysed_packets == 1
    assert not [f for f in r.findings if f.id == "capture.not_analysed"]


def test_duration_is_latest_minus_earliest_and_backward_steps_are_counted(tmp_path: Path) -> None:
    base = 1_700_000_000.0
    times = [base + t for t in (10.0, 12.0, 11.0, 9.0, 13.0, 12.5)]  # 3 steps back; earliest 9, latest 13
    r = analyze(_write(tmp_path / "back.pcap", [_tcp(i) for i in range(6)], times))
    assert abs(r.capture.duration_s - 4.0) < 1e-6
    assert r.capture.timestamps_backwards == 3
    finding = next(f for f in r.findings if f.id == "capture.time_backwards")
    assert finding.title == "Timestamps go backwards 3 times in the capture" and finding.severity == "info"


def test_duration_with_a_zero_last_timestamp(tmp_path: Path) -> None:
    times = [1_700_000_000.0, 1_700_000_001.5, 0.0]
    r = analyze(_write(tmp_path / "zero.pcap", [_tcp(i) for i in range(3)], times))
    assert abs(r.capture.duration_s - 1_700_000_001.5) < 1e-3  # max - min, as tshark; not 0.0
    assert r.capture.timestamps_backwards == 1


def test_ordered_capture_reports_no_backward_step(tmp_path: Path) -> None:
    r = analyze(_write(tmp_path / "ordered.pcap", [_tcp(i) for i in range(5)]))
    assert r.capture.timestamps_backwards == 0 and abs(r.capture.duration_s - 0.04) < 1e-6
    assert not [f for f in r.findings if f.id.startswith("capture.")]
