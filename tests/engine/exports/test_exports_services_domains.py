"""Services (server ports) and DNS by registered domain against tshark on the mixed capture."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from pcap_analyzer.analyzers.dns_by_name import QUERIES, UNANSWERED, NameCounts
from pcap_analyzer.analyzers.dns_domains import registered_domain
from pcap_analyzer.analyzers.services import iana_services
from tests.engine.exports.tshark import analysed, frames, needs_tshark, rows

pytestmark = needs_tshark
WIRESHARK_SERVICES = Path("/usr/share/wireshark/services")  # libwireshark-data, installed with tshark


def test_service_names_are_wiresharks_copy_of_the_iana_registry() -> None:
    names = iana_services()
    assert names[("tcp", 80)] == "http" and names[("udp", 53)] == "domain" and names[("tcp", 443)] == "https"
    # every name we ship is the registry's first name for that port and protocol
    first: dict[tuple[str, int], str] = {}
    for line in WIRESHARK_SERVICES.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[1].split("/")[0].isdigit():
            port, *protos = fields[1].split("/")
            for proto in protos:
                first.setdefault((proto, int(port)), fields[0])
    assert names == {k: v for k, v in first.items() if k[0] in ("tcp", "udp")}


def test_services_match_tshark_conversations() -> None:
    svc = analysed().services
    assert [(s.protocol, s.port) for s in svc[:3]] == [("tcp", 5001), ("tcp", 5002), ("tcp", 5003)]
    for s in svc:
        assert s.service == iana_services().get((s.protocol, s.port))
        if s.protocol == "tcp":
            # the port the SYNs go to (every connection of this capture starts inside it)
            syn = f"tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == {s.port}"
            streams = {r[1] for r in rows(syn, "tcp.stream")}
            got = rows(f"tcp.stream in {{{', '.join(sorted(streams))}}}", "frame.len")
        else:
            first = rows(f"udp.dstport == {s.port}", "udp.stream")
            streams = {r[1] for r in first}
            got = rows(f"udp.stream in {{{', '.join(sorted(streams))}}}", "frame.len")
        assert s.connections == len(streams), s
        assert s.packets == len(got) and s.bytes == sum(int(r[1]) for r in got), s
        assert len(frames(s.filter)) >= s.packets


def test_dns_domains_match_tshark() -> None:
    r = analysed()
    fields = ("dns.flags.response", "dns.qry.name", "dns.flags.rcode", "dns.time")
    queries: Counter[str] = Counter()
    failures: dict[str, Counter[str]] = defaultdict(Counter)
    slow: Counter[str] = Counter()
    names: dict[str, set[str]] = defaultdict(set)
    for _, response, name, rcode, time in rows("dns", *fields):
        d = registered_domain(name)
        names[d].add(name)
        if response == "0":
            queries[d] += 1
        elif time:  # a response matched to its query (dns.time), as our answered transactions
            if rcode != "0":
                failures[d][{"3": "NXDOMAIN", "2": "SERVFAIL", "5": "REFUSED"}[rcode]] += 1
            slow[d] += float(time) * 1000 > r.config["dns_slow_ms"]
    assert (
        {d.domain for d in r.dns.domains} == set(queries) == {"example.test", "svc.internal", "corp.example"}
    )
    for d in r.dns.domains:
        assert d.queries == queries[d.domain]
        assert d.names == len(names[d.domain])
        assert d.failures == dict(failures[d.domain])
        assert d.slow_answers == slow[d.domain]
        assert len(frames(d.filter)) == len(rows(f'dns.qry.name contains "{d.domain}"'))
    assert sum(d.queries for d in r.dns.domains) == r.dns.queries
    assert sum(d.unanswered for d in r.dns.domains) == r.dns.unanswered
    assert sum(d.pending_at_end for d in r.dns.domains) == r.dns.pending_at_end


def test_registered_domain_uses_the_bundled_public_suffix_list() -> None:
    assert registered_domain("www.bbc.co.uk") == "bbc.co.uk"
    assert registered_domain("A.B.Example.COM.") == "example.com"
    assert registered_domain("x.y.github.io") == "github.io"  # private suffixes are not used
    assert registered_domain("api.svc.internal") == "svc.internal"  # no public suffix: last two labels
    assert registered_domain("") == "."


def test_names_past_the_cap_are_counted_together() -> None:
    counts = NameCounts(max_names=2)
    names = {1: "a.example.com", 2: "b.example.org", 3: "c.example.net"}
    hashes = np.array([1, 2, 3, 3], np.uint64)
    counts.register(hashes, names)
    counts.add(QUERIES, hashes)
    counts.add(UNANSWERED, np.array([3], np.uint64))
    counts.add_answers(
        np.array([1, 2], np.uint64), np.array([0, 2], np.int64), np.array([5.0, 250.0]), slow_ms=100.0
    )
    rows = counts.domains(10)
    got = {d.domain: (d.queries, d.answered, d.failures, d.slow_answers, d.unanswered) for d in rows}
    assert got == {
        "example.com": (1, 1, {}, 0, 0),
        "example.org": (1, 1, {"SERVFAIL": 1}, 1, 0),
        "(other names)": (2, 0, {}, 0, 1),
    }


def test_registered_domains_agree_with_the_whole_list() -> None:
    """Handing the parser only the rules of the top-level labels present changes no answer: the same names
    against the package's whole ICANN list (wildcards, exceptions, IDN in Unicode and punycode, no suffix)."""
    from publicsuffixlist import PublicSuffixList

    from pcap_analyzer.analyzers.dns_domains import registered_domains

    names = ["www.bbc.co.uk", "a.b.ck", "www.ck", "x.y.github.io", "пример.рф", "xn--e1afmkfd.xn--p1ai"]
    names += ["mail.example.com.", "a.b.c.kawasaki.jp", "city.kawasaki.jp", "svc.internal", "co.uk"]
    names += ["localhost"]
    whole = PublicSuffixList(only_icann=True)
    want = [whole.privatesuffix(n.rstrip(".").lower()) or ".".join(n.rstrip(".").lower().split(".")[-2:])
            for n in names]
    assert registered_domains(names) == want


def test_service_names_of_some_ports_are_the_table_s() -> None:
    from pcap_analyzer.analyzers.services import service_names

    table = iana_services()
    assert service_names({port for _, port in table}) == table
    assert service_names({80, 53, 65000}) == {k: v for k, v in table.items() if k[1] in (80, 53, 65000)}
