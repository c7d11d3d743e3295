"""HTTP/1.x figures against tshark on captures of real programs (tests/data/http, oracle.json).

tshark ran with `http.desegment_body:FALSE` for http.time (request -> the frame completing the response
head, our response_time_ms) and with default preferences for request -> last response byte (our
response_time_ms + transfer_ms). See tests/data/http/make_oracle.py.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from pcap_analyzer import analyze
from pcap_analyzer.report.model import AnalysisResult

DATA = Path(__file__).resolve().parents[2] / "data" / "http"
ORACLE = json.loads((DATA / "oracle.json").read_text())
CAPTURES = sorted(ORACLE["captures"])


@cache
def _result(name: str) -> AnalysisResult:
    return analyze(DATA / name, config={"max_http_slowest": 10_000})


def _close(ours: float | None, theirs_s: str, what: str) -> None:
    want = float(theirs_s) * 1e3
    assert ours is not None, what
    assert abs(ours - want) <= max(0.01 * want, 0.05), f"{what}: {ours} ms, tshark {want} ms"


@pytest.mark.parametrize("name", CAPTURES)
def test_counts_match_tshark(name: str) -> None:
    o, http = ORACLE["captures"][name], _result(name).http
    assert http.requests == len(o["requests"])
    assert http.responses == len(o["responses"])
    assert http.status_codes == dict(Counter(str(r["status"]) for r in o["responses"]))
    assert http.methods == dict(Counter(r["method"] for r in o["requests"]))
    assert http.connections == len({r["stream"] for r in o["requests"]})
    assert http.unanswered == 0
    assert http.response_time_ms.count == len(o["responses"])


@pytest.mark.parametrize("name", CAPTURES)
def test_each_request_matches_tshark(name: str) -> None:
    o, http = ORACLE["captures"][name], _result(name).http
    ours = {(r.request_frame, r.response_frame): r for r in http.slowest}
    assert len(ours) == len(o["responses"])
    requests = {}
    for q in o["requests"]:
        requests.setdefault(q["frame"], []).append(q)
    checked = 0
    for resp in o["responses"]:
        if resp["request_in"] is None:
            continue  # see test_pipelined_pair
        r = ours[(resp["request_in"], resp["frame"])]
        q = requests[resp["request_in"]][0]
        assert (r.stream, r.status, r.method, r.host, r.path) == (
            resp["stream"], resp["status"], q["method"], q["host"], q["uri"])
        assert r.ts == pytest.approx(float(q["ts"]), abs=1e-6)
        _close(r.response_time_ms, resp["time_s"], f"frame {resp['frame']} response time")
        if resp["last_byte_time_s"] is not None:
            total = r.response_time_ms + r.transfer_ms  # type: ignore[operator]
            _close(total, resp["last_byte_time_s"], f"frame {resp['frame']} last byte")
        checked += 1
    assert checked >= len(o["responses"]) - 1


def test_pipelined_pair() -> None:
    """Two requests in one segment: tshark 4.0 links only the first response to its request (it matches by
    frame); we answer them in order, so the 404 belongs to the second request of frame 176."""
    o = ORACLE["captures"]["http_mixed.pcap"]
    both = [q for q in o["requests"] if q["frame"] == 176]
    assert [q["uri"] for q in both] == ["/api/first", "/nothing/here"]
    unmatched = [r for r in o["responses"] if r["request_in"] is None]
    assert [r["status"] for r in unmatched] == [404]
    ours = {r.path: r for r in _result("http_mixed.pcap").http.slowest if r.request_frame == 176}
    assert ours["/api/first"].status == 200
    assert ours["/nothing/here"].status == 404
    assert ours["/nothing/here"].response_frame == unmatched[0]["frame"]


def test_request_split_over_two_segments() -> None:
    """The request head spans two segments 30 ms apart: it counts at the second (tshark's request_in)."""
    r = next(r for r in _result("http_mixed.pcap").http.slowest if r.path == "/sleep/20?from=split")
    assert r.request_frame == 194
    assert 20 <= r.response_time_ms < 30  # type: ignore[operator]


def test_hosts_and_prefixes() -> None:
    hosts = {(h.host, h.path_prefix): h for h in _result("http_mixed.pcap").http.hosts}
    api = hosts[("api.example.test:8080", "/api")]
    assert (api.requests, api.responses, api.errors) == (4, 4, 0)
    assert hosts[("api.example.test:8080", "/")].errors == 1  # /missing
    assert sum(h.requests for h in hosts.values()) == 13


@pytest.mark.every_corpus
def test_corpus_against_tshark(corpus_dir: Path) -> None:
    """The mixed capture of each corpus, with tshark run here. Its short TCP exchanges (../shared/corpus)
    send bare "GET <size>\\n" lines on port 80 that tshark counts as requests with no HTTP version, never
    answered: not HTTP/1.x request lines, so we count none of them; every other message must match."""
    pcap = corpus_dir / "netns_mixed_s128.pcap"
    cmd = ["tshark", "-r", str(pcap), "-n", "-o", "http.desegment_body:FALSE", "-Y",
           "http.request || http.response", "-T", "fields", "-e", "http.request",
           "-e", "http.request.version",
           "-e", "http.response"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    bare = sum(1 for r in rows if r[0] and not r[1].startswith("HTTP/1."))
    http = analyze(pcap).http
    assert http.requests == sum(1 for r in rows if r[0]) - bare
    assert http.responses == sum(1 for r in rows if r[2])


@pytest.mark.parametrize("name", CAPTURES)
def test_chunking_changes_nothing(name: str) -> None:
    """Connections and bodies that span chunks (64 KiB chunks: several per capture) give the same report."""
    small = analyze(DATA / name, config={"max_http_slowest": 10_000, "chunk_bytes": 64 * 1024})
    whole = _result(name)
    assert small.http == whole.http
    assert small.latency_breakdown == whole.latency_breakdown
    assert small.latency_connections == whole.latency_connections


def test_caps() -> None:
    r = analyze(DATA / "http_mixed.pcap", config={"max_http_slowest": 0, "max_http_hosts": 1})
    assert r.http.slowest == [] and len(r.http.hosts) == 1 and r.http.requests == 13
    assert r.limits["http_slowest"] == 0 and r.limits["http_hosts"] == 1
    ranked = [q.response_time_ms for q in _result("http_mixed.pcap").http.slowest]
    assert ranked == sorted(ranked, reverse=True)
