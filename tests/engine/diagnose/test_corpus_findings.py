"""Order, severity and figures of the findings on the corpus capture netns_mixed (regression check).

Its traffic (shared/corpus/README.md): request/response connections to :8080 with resets, bulk uploads to
:5001 over a lossy path, a zero-window receiver, 20 refused connections to :5999, 2,000 DNS queries of
which the server dropped some, and answers delayed by up to ~1 s.
"""

from __future__ import annotations

from pathlib import Path

from pcap_analyzer import analyze


def test_netns_mixed_findings(corpus_dir: Path) -> None:
    r = analyze(corpus_dir / "netns_mixed.pcapng")
    top = r.findings[0]
    assert top.id == "tcp.loss" and "10.99.0.2:5001" in top.title and top.severity != "info"
    # RTO waiting is a union per connection: never more than the connection's life
    for c in r.connections:
        assert c.rto_time_ms <= c.duration_s * 1000 + 1e-6
    bulk = next(s for s in r.tcp_servers if s.server == "10.99.0.2:5001")
    assert bulk.rto_wait_ms <= bulk.connection_time_s * 1000
    share = round(100 * bulk.rto_wait_ms / (1000 * bulk.connection_time_s))
    assert f"{share}% of their connection time" in top.title
    # the score's reasons are the warning/critical findings, same order and titles
    ranked = [(f.id, f.title) for f in r.findings if f.severity != "info"]
    assert [(x.code, x.message) for x in r.health.reasons] == ranked
    kinds = {f.id: f for f in r.findings}
    assert kinds["tcp.refused"].title == "20 of 20 connection attempts to 10.99.0.2:5999 were refused (RST)"
    assert "tcp.unanswered_syn" not in kinds  # refused is not unanswered
    assert r.tcp.never_answered_connections == 0 and r.tcp.refused_connections == 20
    assert kinds["dns.unanswered"].title.startswith("DNS server 10.99.0.2 left 59 of 2,000 queries")
    # the slow tail (answers up to ~1 s) makes a finding although the p95 is low
    slow = kinds["dns.slow"]
    assert f"answered {r.dns.slow_answers} of" in slow.title and r.dns.slow_answers >= 30
    assert r.dns.slowest_queries[0].response_time_ms == r.dns.response_time_ms.max
