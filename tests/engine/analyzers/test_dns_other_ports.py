"""DNS over UDP on other ports (tshark's heuristic) in the DNS summary: counted in queries and responses, and
apart in by_protocol["dns_other_port"]; on tests/data/dns_ports and on the public-corpus captures that
carry it (collected only when ../shared/public-corpus is there)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pcap_analyzer.api import analyze

DATA = Path(__file__).resolve().parents[2] / "data" / "dns_ports"
ORACLE = json.loads((DATA / "oracle.json").read_text())["captures"]
PUBLIC = Path(__file__).resolve().parents[4] / "shared" / "public-corpus"


def test_dns_on_other_ports_is_counted_and_told_apart() -> None:
    facts = ORACLE["dns_ports.pcap"]
    d = analyze(DATA / "dns_ports.pcap").dns
    assert (d.queries, d.responses) == (facts["queries"], facts["responses"]) == (12, 10)
    other = facts["other_port"]
    assert set(d.by_protocol) == {"dns_other_port"}
    assert (d.by_protocol["dns_other_port"].queries, d.by_protocol["dns_other_port"].responses) == (
        other["queries"],
        other["responses"],
    )
    # the 101-answer and 11-additional responses are not DNS to tshark: their queries stay unanswered
    assert d.unanswered + d.pending_at_end == facts["queries"] - facts["responses"]
    assert {s.server.split(":")[0] for s in d.servers} == {"127.0.0.2"}


if PUBLIC.is_dir():
    # UDP DNS on 443, 1053, 1443, 8443 (DNSCrypt resolvers), 8053, SOME/IP's 30490 and 31490, in VXLAN
    CASES = [
        "ndpi__tests__cfgs__default__pcap__avast_securedns.pcapng",
        "ndpi__tests__cfgs__default__pcap__dnscrypt-v1-and-resolver-pings.pcap",
        "ndpi__tests__cfgs__default__pcap__someip_sd_sample.pcap",
        "tcpdump__tests__someip1.pcap",
        "ppp__Tests__Packet++Test__PacketExamples__SomeIpSd.pcapng",
        "tcpdump__tests__dns_udp_8053.pcap",
        "ndpi__tests__cfgs__default__pcap__custom_rules_ipv6.pcapng",
        "suri__tests__vxlan-decoder-01__input.pcap",
    ]

    @pytest.mark.parametrize("name", CASES)
    def test_public_corpus_dns_on_other_ports_is_tsharks(name: str) -> None:
        facts = json.loads((PUBLIC / "oracle.json").read_text())["captures"][name]["dns"]
        d = analyze(PUBLIC / name).dns
        assert (d.queries, d.responses) == (facts["queries"], facts["responses"])
        assert "dns_other_port" in d.by_protocol
