"""Order, severity and figures of the findings on the test capture netns_mixed (regression check).

Its traffic (tests/data/README.md, make_captures.py): bulk uploads to :5001 over a lossy, rate-limited path,
request/response connections with resets, a zero-window receiver, 20 refused connections, DNS queries of
which the server dropped some and answered others up to ~1.5 s late. Counts come from tshark's oracle or
from that construction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pcap_analyzer import analyze

REFUSED_BY_CONSTRUCTION = 20


def test_netns_mixed_findings(corpus_dir: Path, oracle: dict[str, Any]) -> None:
    r = analyze(corpus_dir / "netns_mixed.pcapng")
    facts = oracle["netns_mixed.pcapng"]
    top = r.findings[0]
    assert top.id == "tcp.loss" and ":5001 " in top.title and top.severity != "info"
    # RTO waiting is a union per connection: never more than the connection's life
    for c in r.connections:
        assert c.rto_time_ms <= c.duration_s * 1000 + 1e-6
    bulk = next(s for s in r.tcp_servers if s.server.endswith(":5001"))
    assert bulk.rto_wait_ms <= bulk.connection_time_s * 1000
    share = round(100 * bulk.rto_wait_ms / (1000 * bulk.connection_time_s))
    assert f"{share}% of their connection time" in top.title
    # the score's reasons are warning/critical findings with the same titles, in the findings' order; a
    # finding is left out only when its kind's penalty cap is already used up
    ranked = [(f.id, f.title) for f in r.findings if f.severity != "info"]
    reasons = [(x.code, x.message) for x in r.health.reasons]
    positions = [ranked.index(reason) for reason in reasons]
    assert positions == sorted(positions)
    assert {code for code, _ in ranked} == {code for code, _ in reasons}
    kinds = {f.id: f for f in r.findings}
    n = REFUSED_BY_CONSTRUCTION
    assert kinds["tcp.refused"].title.startswith(f"{n} of {n} connection attempts to ")
    assert kinds["tcp.refused"].title.endswith(" were refused (RST)")
    assert "tcp.unanswered_syn" not in kinds  # refused is not unanswered
    assert r.tcp.never_answered_connections == 0 and r.tcp.refused_connections == n
    queries = facts["dns"]["queries"]
    unanswered = kinds["dns.unanswered"].title
    assert f"of {queries:,} queries" in unanswered
    assert r.dns.unanswered <= facts["dns"]["unanswered_queries_excluding_retransmissions"]
    # the slow tail (answers up to ~1.5 s) makes a finding
    slow = kinds["dns.slow"]
    assert f"answered {r.dns.slow_answers} of" in slow.title and r.dns.slow_answers >= 30
    assert r.dns.slowest_queries[0].response_time_ms == r.dns.response_time_ms.max
    assert abs(r.dns.response_time_ms.max - 1000 * facts["dns"]["time_s"]["max"]) < 0.05
