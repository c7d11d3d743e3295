"""Severity and ranking by impact (issue 18) on captures whose truth is known by construction."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcap_analyzer import analyze
from pcap_analyzer.report.model import AnalysisResult, Finding
from tests.engine.diagnose.raw import Conn, Trace, lossy_bulk, short_exchanges, udp

SHORT, BULK = "10.99.0.2", "10.99.0.3"


def _of(r: AnalysisResult, kind: str) -> list[Finding]:
    return [f for f in r.findings if f.id == kind]


def _agree(r: AnalysisResult) -> None:
    """The health reasons are the warning/critical findings: same titles, same order."""
    ranked = [(f.id, f.title) for f in r.findings if f.severity != "info"]
    assert [(x.code, x.message) for x in r.health.reasons] == ranked[: len(r.health.reasons)]


def _bulk_paths(tr: Trace, t0: float = 0.0) -> tuple[int, float, float]:
    resent = waited = life = 0.0
    for k in range(4):
        n, w, d = lossy_bulk(tr, f"10.2.0.{k + 1}", BULK, 5001, 1500, 0.03, seed=k, t0=t0, sport=45000 + k)
        resent, waited, life = resent + n, waited + w, life + d
    return int(resent), waited, life


def test_thousands_of_healthy_connections_and_two_unlucky_ones_stay_info(tmp_path: Path) -> None:
    tr = Trace()
    short_exchanges(tr, SHORT, 8080, count=3000, unlucky=2)
    r = analyze(tr.write(tmp_path / "short.pcap"))
    assert (r.tcp.conversations, r.tcp.retransmissions) == (3000, 2)
    (srv,) = r.tcp_servers
    # truth: 2 data segments per connection (request, answer) + the 2 resent requests
    assert (srv.server, srv.connections, srv.data_segments, srv.affected_connections) == (
        f"{SHORT}:8080",
        3000,
        6002,
        2,
    )
    (loss,) = _of(r, "tcp.loss")
    assert loss.severity == "info"
    assert "(2 of 6,002 resent)" in loss.title and loss.detail.startswith("2 of 3,000 connections")
    assert loss.evidence.streams == [0, 1]
    assert all(f.severity == "info" for f in r.findings)
    assert (r.health.score, r.health.reasons) == (100, [])


def test_lossy_bulk_path_with_timeouts_is_the_top_finding(tmp_path: Path) -> None:
    tr = Trace()
    resent, waited, life = _bulk_paths(tr)
    r = analyze(tr.write(tmp_path / "bulk.pcap"))
    assert r.tcp.retransmissions == resent
    top = r.findings[0]
    assert top.id == "tcp.loss" and top.severity in ("warning", "critical") and BULK in top.title
    (srv,) = r.tcp_servers
    assert srv.retransmissions == resent and srv.data_segments == 4 * 1500 + resent
    # time waited for timeouts: the union per connection equals the stalls built into the capture
    assert srv.rto_wait_ms == pytest.approx(waited * 1000, rel=1e-3)
    assert srv.connection_time_s == pytest.approx(life, rel=1e-3)
    share = round(100 * waited / life)
    assert f"{share}% of their connection time" in top.title
    for c in r.connections:
        assert c.rto_time_ms <= c.duration_s * 1000
    _agree(r)
    assert r.health.reasons[0].message == top.title and r.health.score < 90


def test_mix_puts_the_bulk_path_first(tmp_path: Path) -> None:
    tr = Trace()
    end = short_exchanges(tr, SHORT, 8080, count=3000, unlucky=2)
    resent, _, _ = _bulk_paths(tr)
    for i in range(200):  # refused connections
        c = Conn(tr, "10.3.0.1", 20000 + i, SHORT, 9999)
        c.c2s(end + i * 0.001, "S")
        c.cseq += 1
        c.sseq = 0
        c.s2c(end + i * 0.001 + 0.0002, "RA")
    for i in range(3):  # SYNs nobody answers
        Conn(tr, "10.3.0.2", 21000 + i, "10.99.0.9", 22).c2s(end + i, "S")
    tr.at(end + 10, udp("10.3.0.3", 9, "10.3.0.4", 9, b"end"))
    r = analyze(tr.write(tmp_path / "mix.pcap"))
    assert (r.tcp.refused_connections, r.tcp.never_answered_connections) == (200, 3)
    assert r.tcp.unanswered_connections == 203  # tshark's figure: SYN without SYN/ACK, refused included
    first = r.findings[0]
    assert first.id == "tcp.loss" and BULK in first.title
    short = next(f for f in _of(r, "tcp.loss") if SHORT in f.title)
    assert short.severity == "info"
    refused = _of(r, "tcp.refused")[0]
    assert refused.title == f"200 of 200 connection attempts to {SHORT}:9999 were refused (RST)"
    (never,) = _of(r, "tcp.unanswered_syn")
    assert never.title == "3 of 3 connection attempts to 10.99.0.9:22 were never answered"
    assert never.severity == "info"  # 3 attempts: fewer than min_evidence_events
    _agree(r)
    assert r.health.reasons[0].code == "tcp.loss"


def test_rto_waiting_is_a_union_never_longer_than_the_connection(tmp_path: Path) -> None:
    # 10 segments sent 1 ms apart, none acknowledged; after 300 ms all 10 are resent 1 ms apart: the
    # sender waited from the first segment to the last resend once, not 10 times
    tr = Trace()
    c = Conn(tr, "10.4.0.1", 40000, "10.4.0.2", 80)
    t = c.handshake(0.0, 0.01)
    first, seqs = t + 0.001, []
    for i in range(10):
        seqs.append(c.cseq)
        c.c2s(first + i * 0.001, "PA", 1000)
        c.cseq += 1000
    last = first + 0.3 + 0.009
    for i, seq in enumerate(seqs):
        c.c2s(first + 0.3 + i * 0.001, "PA", 1000, seq=seq)
    c.s2c(last + 0.01, "A")
    c.close(last + 0.02, 0.01)
    r = analyze(tr.write(tmp_path / "rto.pcap"))
    (conn,) = r.connections
    assert r.tcp.retransmissions == 10
    assert conn.rto_time_ms == pytest.approx((last - first) * 1000, abs=0.01)  # 309 ms, not 3,045 ms
    assert conn.rto_time_ms <= conn.duration_s * 1000
    assert r.tcp.rto_wait_ms == pytest.approx(conn.rto_time_ms)
    assert r.tcp_servers[0].rto_wait_ms == pytest.approx(conn.rto_time_ms)


def test_counts_cover_every_connection_not_only_the_listed_ones(tmp_path: Path) -> None:
    # 600 connections; 10 slow handshakes (300 ms, the worst 390 ms) and 7 resets; only 50 are listed
    tr = Trace()
    for i in range(600):
        c = Conn(tr, "10.6.0.1", 20000 + i, "10.6.0.2", 443)
        rtt = 0.3 + 0.01 * i if i < 10 else 0.001
        t = c.handshake(i * 0.5, rtt)
        c.c2s(t, "PA", 100)
        c.cseq += 100
        c.s2c(t + 0.001, "A")
        if 100 <= i < 107:
            c.s2c(t + 0.002, "R")
        else:
            c.close(t + 0.002, 0.001)
    r = analyze(tr.write(tmp_path / "many.pcap"), config={"max_connections": 50})
    assert len(r.connections) == 50
    (srv,) = r.tcp_servers
    assert (srv.connections, srv.slow_handshakes, srv.reset_connections) == (600, 10, 7)
    assert srv.worst_handshake_ms == pytest.approx(390.0, abs=0.01)
    titles = {f.id: f for f in r.findings}
    assert titles["tcp.slow_handshake"].title == (
        "10 of 600 handshakes with 10.6.0.2:443 took longer than 200 ms (worst 390 ms)"
    )
    assert titles["tcp.reset"].title == "7 of 600 established connections with 10.6.0.2:443 were reset"
