"""ICMP / ICMPv6 diagnostics against tshark (tests/data/icmp/oracle.json, made by make_oracle.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pcap_analyzer.analyzers.icmp_names import message_name
from pcap_analyzer.api import analyze
from pcap_analyzer.report.model import AnalysisResult

ICMP_DIR = Path(__file__).resolve().parents[2] / "data" / "icmp"
CAPTURE = ICMP_DIR / "icmp_netns.pcap"
# The names of the (family type/code) pairs in the capture, written here from RFC 792 / 4443 / 4861 / 3810.
NAMES = {
    "icmp 0/0": "Echo reply",
    "icmp 3/0": "Destination unreachable/Net unreachable",
    "icmp 3/1": "Destination unreachable/Host unreachable",
    "icmp 3/3": "Destination unreachable/Port unreachable",
    "icmp 3/4": "Destination unreachable/Fragmentation needed",
    "icmp 3/13": "Destination unreachable/Communication administratively prohibited",
    "icmp 5/1": "Redirect/Redirect for host",
    "icmp 8/0": "Echo request",
    "icmp 11/0": "Time exceeded/TTL exceeded in transit",
    "icmpv6 1/0": "ICMPv6 Destination unreachable/No route to destination",
    "icmpv6 1/4": "ICMPv6 Destination unreachable/Port unreachable",
    "icmpv6 2/0": "ICMPv6 Packet too big",
    "icmpv6 3/0": "ICMPv6 Time exceeded/Hop limit exceeded in transit",
    "icmpv6 128/0": "ICMPv6 Echo request",
    "icmpv6 129/0": "ICMPv6 Echo reply",
    "icmpv6 133/0": "ICMPv6 Router solicitation",
    "icmpv6 135/0": "ICMPv6 Neighbor solicitation",
    "icmpv6 136/0": "ICMPv6 Neighbor advertisement",
    "icmpv6 143/0": "ICMPv6 Multicast listener report v2",
}


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ICMP_DIR / "oracle.json").read_text())
    assert data["tshark_version"].startswith("TShark (Wireshark) ")
    facts: dict[str, Any] = data["captures"]["icmp_netns.pcap"]
    assert facts["file"]["bytes"] == CAPTURE.stat().st_size
    return facts


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return analyze(CAPTURE)


def test_messages_by_type_and_code_match_tshark(result: AnalysisResult, truth: dict[str, Any]) -> None:
    expected = {NAMES[k]: n for k, n in truth["icmp"]["messages"].items()}
    assert result.icmp.messages == expected
    assert result.icmp.packets == sum(expected.values())


@pytest.mark.parametrize(
    "key", ["unreachable", "fragmentation_needed", "packet_too_big", "time_exceeded", "redirects"]
)
def test_error_counts_match_tshark(result: AnalysisResult, truth: dict[str, Any], key: str) -> None:
    assert getattr(result.icmp, key) == truth["icmp"][key]
    assert truth["icmp"][key] > 0  # the capture has each kind


def test_next_hop_mtus_match_tshark(result: AnalysisResult, truth: dict[str, Any]) -> None:
    assert result.icmp.next_hop_mtus == truth["icmp"]["next_hop_mtus"] == [1280]


def test_pmtu_messages_name_the_router_and_the_quoted_destination(result: AnalysisResult) -> None:
    # by construction (make_captures.py): the router's client-side addresses report the 1280-byte link
    # towards the server, for two DF datagrams over IPv4 and two over IPv6
    got = {(p.router, p.destination, p.mtu, p.messages) for p in result.icmp.pmtu}
    assert got == {("10.78.1.254", "10.78.2.1", 1280, 2), ("fd78:1::fe", "fd78:2::1", 1280, 2)}


def test_top_sources_and_destinations_match_tshark(result: AnalysisResult, truth: dict[str, Any]) -> None:
    assert {p.address: p.messages for p in result.icmp.sources} == truth["icmp"]["sources"]
    assert {p.address: p.messages for p in result.icmp.destinations} == truth["icmp"]["destinations"]
    counts = [p.messages for p in result.icmp.sources]
    assert counts == sorted(counts, reverse=True)


def test_error_evidence_frames_are_the_error_messages(result: AnalysisResult, truth: dict[str, Any]) -> None:
    cap = result.config["max_evidence_frames"]
    expected = {k: v[:cap] for k, v in truth["icmp"]["error_frames"].items()}
    assert result.icmp.error_frames == expected


def test_the_mixed_capture_matches_tshark_too() -> None:
    data: dict[str, Any] = json.loads((ICMP_DIR / "oracle.json").read_text())
    truth = data["captures"]["netns_mixed_s128.pcap"]["icmp"]
    icmp = analyze(ICMP_DIR.parent / "netns_mixed_s128.pcap").icmp
    assert icmp.messages == {NAMES[k]: n for k, n in truth["messages"].items()}
    assert {p.address: p.messages for p in icmp.sources} == truth["sources"]
    assert {p.address: p.messages for p in icmp.destinations} == truth["destinations"]
    assert (icmp.unreachable, icmp.fragmentation_needed, icmp.next_hop_mtus) == (0, 0, [])


@pytest.mark.parametrize(
    ("v6", "icmp_type", "code", "name"),
    [
        (False, 3, 4, "Destination unreachable/Fragmentation needed"),
        (False, 8, 0, "Echo request"),
        (False, 8, 5, "Echo request/Code 5"),
        (False, 200, 0, "Type 200/Code 0"),
        (True, 2, 0, "ICMPv6 Packet too big"),
        (True, 1, 9, "ICMPv6 Destination unreachable/Code 9"),
    ],
)
def test_message_names_for_known_and_unknown_codes(v6: bool, icmp_type: int, code: int, name: str) -> None:
    assert message_name(v6, icmp_type, code) == name
