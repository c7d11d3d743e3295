"""The streaming analyzers on every test capture, against tshark's oracle.json."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from pcap_analyzer.analyzers.throughput import MIN_AVERAGE_S
from tests.conftest import CAPTURES, RCODE_NAMES
from tests.engine.analyzers.pipeline import Analyzers, run

pytestmark = pytest.mark.every_corpus


@cache
def _run(path: Path) -> Analyzers:
    return run(path)


@pytest.fixture(params=CAPTURES)
def case(
    request: pytest.FixtureRequest, corpus_dir: Path, oracle: dict[str, Any]
) -> tuple[Analyzers, dict[str, Any]]:
    return _run(corpus_dir / request.param), oracle[request.param]


def _close(ours: float | None, theirs: float | None, rel: float = 0.01, abs_: float = 0.0) -> bool:
    if theirs is None:
        return ours is None
    return ours is not None and abs(ours - theirs) <= max(rel * abs(theirs), abs_)


def test_dns_matches_tshark(case: tuple[Analyzers, dict[str, Any]]) -> None:
    an, o = case
    d, od = an.dns.finalize(), o["dns"]
    assert (d.queries, d.responses) == (od["queries"], od["responses"])
    # tshark 4.0 matches on (conversation, id) only: a new query for another name that reuses the id of an
    # unanswered one is its "retransmission" (netns_mixed: 3, each checked by hand to ask another name). We
    # also compare the question, so we never find more, and each such merge moves at most one query
    # between tshark's unanswered and retransmitted counts.
    merged = od["retransmitted_queries"] - d.retransmitted_queries
    assert 0 <= merged
    assert d.unsolicited_responses == od["unsolicited_responses"]
    # tshark counts query FRAMES without dns.response_in, so a re-sent query of a transaction counts
    # again; we count transactions, which is its figure without the retransmitted frames.
    assert abs(d.unanswered - od["unanswered_queries_excluding_retransmissions"]) <= merged
    assert d.rcodes == {RCODE_NAMES[k]: v for k, v in od["rcodes"].items()}
    ot, st = od["time_s"], d.response_time_ms
    # a merged transaction has one timed answer for tshark; we time each query's own answer
    assert 0 <= st.count - ot["count"] <= merged
    for k in ("min", "median", "p95", "mean", "max"):
        theirs = None if ot[k] is None else ot[k] * 1000
        if merged == 0:
            assert _close(getattr(st, k), theirs, abs_=0.0011), k  # oracle rounded to the microsecond
        elif k in ("median", "p95"):
            assert _close(getattr(st, k), theirs, rel=0.02), k


def test_talkers_and_conversations_exact(case: tuple[Analyzers, dict[str, Any]]) -> None:
    an, o = case
    talkers, convs = an.talkers.finalize(an.flows)
    assert [(t.address, t.bytes, t.packets) for t in talkers[:5]] == [
        (t["address"], t["bytes"], t["frames"]) for t in o["top_talkers"]
    ]
    assert [(" <-> ".join(sorted((c.a, c.b))), c.bytes, c.packets) for c in convs[:5]] == [
        (c["pair"], c["bytes"], c["frames"]) for c in o["top_conversations"]
    ]


def test_throughput_gaps_and_udp(case: tuple[Analyzers, dict[str, Any]]) -> None:
    an, o = case
    thr, timeline = an.throughput.finalize()
    ot = o["throughput"]
    assert thr.bytes == ot["bytes"] == sum(timeline.bytes_total)
    assert _close(thr.duration_s, ot["duration_s"], rel=0, abs_=1e-6)
    if thr.duration_s < MIN_AVERAGE_S:  # no average over a near-zero duration (tshark divides)
        assert thr.bits_per_s is None
    else:
        assert _close(thr.bits_per_s, ot["bits_per_s"], rel=1e-6)
    assert thr.max_1s_bits_per_s == ot["max_1s_bits_per_s"]
    assert sum(timeline.packets) == o["file"]["frames"]
    an.gaps.finalize()
    assert _close(an.gaps.max_gap_s, o["file"]["max_interframe_gap_s"], rel=0, abs_=1e-6)
    assert [(f"{s.src}:{s.src_port}", f"{s.dst}:{s.dst_port}", s.packets) for s in an.udp.finalize()] == [
        (f["src"], f["dst"], f["packets"]) for f in o["udp"]["flows_with_20_or_more_packets"]
    ]


def test_protocol_tree_is_consistent(case: tuple[Analyzers, dict[str, Any]]) -> None:
    an, o = case
    shares = {s.protocol: s for s in an.protocols.finalize()}
    top = [s for name, s in shares.items() if "/" not in name]
    assert sum(s.packets for s in top) == o["file"]["frames"]
    assert sum(s.bytes for s in top) == o["throughput"]["bytes"]
    dns = sum(s.packets for name, s in shares.items() if name.endswith("/DNS"))
    assert dns == o["dns"]["queries"] + o["dns"]["responses"]
