"""DNS figures on captures whose truth is known by construction (and tshark where tshark is right)."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pcap_analyzer import analyze
from pcap_analyzer.report.html import render_html
from tests.engine.diagnose.raw import Trace, dns_message, udp

STUB, RESOLVER = "10.5.0.1", "10.5.0.53"


def _stub_resolver(
    tmp_path: Path, queries: int = 20_000, drop: float = 0.03
) -> tuple[Path, dict[str, object]]:
    """One stub resolver on a fixed source port sends `queries` queries with random 16-bit ids and random
    names, 0.5 ms apart, never retried; the server drops ~`drop` of them and answers the others after
    1-20 ms. The capture ends 10 s after the last query."""
    rnd = random.Random(18)
    tr = Trace()
    delays_ns, dropped, collisions = [], 0, 0
    open_ids: dict[int, int] = {}  # id -> index of a still unanswered (dropped) query
    for i in range(queries):
        ident = rnd.randrange(65536)
        name = f"h{rnd.randrange(10**9)}.example.org"
        t_ns = i * 500_000
        if ident in open_ids:
            collisions += 1
        tr.at(t_ns / 1e9, udp(STUB, 40000, RESOLVER, 53, dns_message(ident, name, False)))
        if rnd.random() < drop:
            dropped += 1
            open_ids[ident] = i
            continue
        d_ns = rnd.randrange(1_000_000, 20_000_000)
        delays_ns.append(d_ns)
        tr.at((t_ns + d_ns) / 1e9, udp(RESOLVER, 53, STUB, 40000, dns_message(ident, name, True)))
    tr.at(queries * 0.0005 + 10.0, udp(STUB, 9, "10.5.0.9", 9, b"end"))
    path = tr.write(tmp_path / "stub.pcap")
    truth = {"dropped": dropped, "collisions": collisions, "delays_ms": np.array(delays_ns) / 1e6}
    return path, truth


def _tshark_count(path: Path, display_filter: str) -> int:
    out = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-Y", display_filter, "-T", "fields", "-e", "frame.number"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return len(out.stdout.split())


def test_colliding_ids_from_one_stub_resolver(tmp_path: Path) -> None:
    path, truth = _stub_resolver(tmp_path)
    assert truth["collisions"] > 0  # the construction reuses ids of unanswered queries
    r = analyze(path)
    d = r.dns
    assert (d.queries, d.retransmitted_queries, d.pending_at_end) == (20_000, 0, 0)
    assert d.unanswered == truth["dropped"] and d.responses == 20_000 - truth["dropped"]
    assert d.unsolicited_responses == 0
    delays = truth["delays_ms"]
    assert d.response_time_ms.count == delays.size
    assert d.response_time_ms.p95 == pytest.approx(np.percentile(delays, 95), abs=1e-3)
    assert d.response_time_ms.median == pytest.approx(np.percentile(delays, 50), abs=1e-3)
    (srv,) = d.servers
    assert (srv.queries, srv.unanswered) == (20_000, truth["dropped"])
    assert sum(s.queries for s in d.servers) == d.queries  # the totals agree


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_colliding_ids_against_tshark(tmp_path: Path) -> None:
    path, truth = _stub_resolver(tmp_path, queries=5_000)
    r = analyze(path)
    # where tshark is right: the number of query and response frames
    assert r.dns.queries == _tshark_count(path, "dns.flags.response == 0")
    assert r.dns.responses == _tshark_count(path, "dns.flags.response == 1")
    # where it is not: tshark 4.0 matches on ids only and takes colliding queries for retransmissions
    assert _tshark_count(path, "dns.retransmission") > 0 and r.dns.retransmitted_queries == 0
    assert r.dns.unanswered == truth["dropped"]


def test_query_sent_just_before_the_end_is_not_a_failure(tmp_path: Path) -> None:
    tr = Trace()
    for i in range(200):
        tr.at(i * 0.01, udp(STUB, 40000, RESOLVER, 53, dns_message(i, f"a{i}.example", False)))
        tr.at(i * 0.01 + 0.002, udp(RESOLVER, 53, STUB, 40000, dns_message(i, f"a{i}.example", True)))
    tr.at(2.0, udp(STUB, 40000, RESOLVER, 53, dns_message(999, "late.example", False)))
    tr.at(2.02, udp(STUB, 9, "10.5.0.9", 9, b"end"))  # the capture ends 20 ms later
    r = analyze(tr.write(tmp_path / "late.pcap"))
    assert (r.dns.queries, r.dns.unanswered, r.dns.pending_at_end) == (201, 0, 1)
    assert not [f for f in r.findings if f.id == "dns.unanswered"]
    (pending,) = [f for f in r.findings if f.id == "dns.pending_at_end"]
    assert pending.severity == "info" and r.health.score == 100
    # a shorter timeout makes it unanswered: the setting is the one the definitions quote
    short = analyze(tmp_path / "late.pcap", config={"dns_timeout_s": 0.01})
    assert (short.dns.unanswered, short.dns.pending_at_end) == (1, 0)
    html = render_html(short)
    assert "within 0.01 s (setting <code>dns_timeout_s</code>)" in html


def test_slow_tail_makes_a_finding_and_tops_the_slowest_list(tmp_path: Path) -> None:
    # 1,000 answers in 4 ms and 35 between 210 ms and 1.59 s: p95 stays low, the tail is real
    tr = Trace()
    slow = {i * 29: 0.21 + k * (1.38 / 34) for k, i in enumerate(range(35))}
    t = 0.0
    for i in range(1035):
        name = f"n{i}.example"
        tr.at(t, udp(STUB, 40000, RESOLVER, 53, dns_message(i, name, False)))
        tr.at(t + slow.get(i, 0.004), udp(RESOLVER, 53, STUB, 40000, dns_message(i, name, True)))
        t += 0.01
    tr.at(t + 10, udp(STUB, 9, "10.5.0.9", 9, b"end"))
    r = analyze(tr.write(tmp_path / "tail.pcap"))
    assert r.dns.response_time_ms.p95 == pytest.approx(4.0, abs=1e-3)
    assert r.dns.slow_answers == 35 and r.dns.response_time_ms.max == pytest.approx(1590.0, abs=1e-3)
    (f,) = [f for f in r.findings if f.id == "dns.slow"]
    assert f.title == (
        f"DNS server {RESOLVER} answered 35 of 1,035 queries slower than 100 ms (p95 4 ms, slowest 1,590 ms)"
    )
    assert f.severity == "info"  # 3 % of the answers: a tail, not a slow server
    slowest = r.dns.slowest_queries
    assert [q.response_time_ms for q in slowest[:35]] == pytest.approx(
        sorted((v * 1000 for v in slow.values()), reverse=True), abs=1e-3
    )
    assert slowest[35].response_time_ms == pytest.approx(4.0, abs=1e-3)
