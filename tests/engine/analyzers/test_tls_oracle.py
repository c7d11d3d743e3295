"""TLS handshakes of tests/data/tls/tls_handshakes.pcap against tshark's facts (its oracle.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pcap_analyzer import analyze
from pcap_analyzer.analyzers.tls import TlsAnalyzer
from pcap_analyzer.api import _Pipeline
from pcap_analyzer.capture.open import open_capture
from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.report.model import AnalysisResult

DATA = Path(__file__).resolve().parents[2] / "data" / "tls"
CAPTURE = DATA / "tls_handshakes.pcap"
# RFC 8446 section 6 / IANA TLS Alerts: the descriptions tshark gives as numbers in oracle.json
ALERT_NAMES = {"40": "handshake_failure", "48": "unknown_ca", "70": "protocol_version"}


def _close(ours: float | None, theirs: float | None) -> bool:
    if ours is None or theirs is None:
        return ours is None and theirs is None
    return abs(ours - theirs) <= max(0.05, 0.01 * abs(theirs))


@pytest.fixture(scope="module")
def oracle() -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((DATA / "oracle.json").read_text())["captures"][CAPTURE.name]
    return facts


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return analyze(CAPTURE)


@pytest.fixture(scope="module")
def tls_analyzer() -> TlsAnalyzer:
    """The analyzer after a pass over the capture, for what the report does not hold (exchanges)."""
    pipe = _Pipeline(AnalysisConfig())
    with open_capture(CAPTURE) as reader:
        for chunk in reader:
            pipe.prepare(chunk)
    return pipe.tls


def test_counts_match_tshark(result: AnalysisResult, oracle: dict[str, Any]) -> None:
    t = result.tls
    assert t.handshakes == oracle["handshakes"] == 65
    assert t.server_hellos == oracle["server_hellos"] == 55
    assert t.server_names == oracle["server_names"]
    assert t.alerts == {ALERT_NAMES[k]: n for k, n in oracle["alerts"].items()}
    assert t.alpn_offered == oracle["alpn_offered"]
    assert t.alpn_selected == oracle["alpn_selected"]
    assert t.versions == oracle["versions"]
    assert t.connections == len(oracle["streams"])


def test_every_handshake_matches_tshark(result: AnalysisResult, tls_analyzer: TlsAnalyzer,
                                        oracle: dict[str, Any]) -> None:  # fmt: skip
    rows = {str(e.stream): e for e in tls_analyzer.exchanges()}
    assert rows.keys() == oracle["streams"].keys()
    for stream, want in oracle["streams"].items():
        e = rows[stream]
        assert e.kind == "tls" and e.request_frame == want["client_hello_frame"], stream
        assert e.response_frame == want["server_hello_frame"], stream
        assert e.server == (want["sni"] or "127.0.0.1:443"), stream
        hello = None if e.first_response_ns is None else (e.first_response_ns - e.start_ns) / 1e6
        done = None if e.last_response_ns is None else (e.last_response_ns - e.start_ns) / 1e6
        assert _close(hello, want["hello_ms"]), (stream, hello, want["hello_ms"])
        assert _close(done, want["done_ms"]), (stream, done, want["done_ms"])
    hello_ms = [s["hello_ms"] for s in oracle["streams"].values() if s["hello_ms"] is not None]
    st = result.tls.handshake_ms
    assert st.count == len(hello_ms)
    assert _close(st.median, float(np.percentile(hello_ms, 50)))
    assert _close(st.p95, float(np.percentile(hello_ms, 95)))
    assert _close(st.max, max(hello_ms))
    done_ms = [s["done_ms"] for s in oracle["streams"].values() if s["done_ms"] is not None]
    assert result.tls.handshake_done_ms.count == len(done_ms)
    assert _close(result.tls.handshake_done_ms.median, float(np.percentile(done_ms, 50)))


def test_client_hello_split_over_two_segments(tls_analyzer: TlsAnalyzer, oracle: dict[str, Any]) -> None:
    split = {k for k, s in oracle["streams"].items() if s["client_hello_segments"] == 2}
    assert len(split) == 6  # the relay's leg of every split.test connection
    rows = {str(e.stream): e for e in tls_analyzer.exchanges()}
    for stream in split:
        assert rows[stream].server == "split.test"
        assert rows[stream].request_frame == oracle["streams"][stream]["client_hello_frame"]


def test_per_server_stats(result: AnalysisResult, oracle: dict[str, Any]) -> None:
    servers = {s.server: s for s in result.tls.servers}
    by_server: dict[str, list[dict[str, Any]]] = {}
    for s in oracle["streams"].values():
        by_server.setdefault(s["sni"] or "127.0.0.1:443", []).append(s)
    assert servers.keys() == by_server.keys()
    for name, rows in by_server.items():
        s = servers[name]
        assert s.handshakes == len(rows)
        for ours, key in ((s.hello_ms, "hello_ms"), (s.done_ms, "done_ms")):
            values = [r[key] for r in rows if r[key] is not None]
            assert ours.count == len(values), name
            if values:
                assert _close(ours.median, float(np.percentile(values, 50))), name
                assert _close(ours.p95, float(np.percentile(values, 95))), name
                assert _close(ours.max, max(values)), name
    # by construction (make_captures.py): which handshakes each server aborted, and with what
    assert servers["c.test"].failures == {"unknown_ca": 8}
    assert servers["d.test"].failures == {"protocol_version": 5}
    assert servers["e.test"].failures == {"handshake_failure": 5}
    assert servers["a.test"].completed == 8 and servers["a.test"].failed == 0


def test_lists_match_tshark(result: AnalysisResult, oracle: dict[str, Any]) -> None:
    failed = [s for s in oracle["streams"].values() if s["sni"] in ("c.test", "d.test", "e.test")]
    assert [f.client_hello_frame for f in result.tls.failures] == sorted(
        s["client_hello_frame"] for s in failed
    )
    timed = sorted((s for s in oracle["streams"].values() if s["hello_ms"] is not None),
                   key=lambda s: -s["hello_ms"])  # fmt: skip
    assert [r.client_hello_frame for r in result.tls.slowest[:10]] == [
        s["client_hello_frame"] for s in timed[:10]
    ]


def test_lists_are_capped_not_the_figures(result: AnalysisResult) -> None:
    capped = analyze(CAPTURE, config={"max_tls_examples": 2, "max_tls_servers": 3}).tls
    assert capped.failures == result.tls.failures[:2]
    assert [r.stream for r in capped.slowest] == [r.stream for r in result.tls.slowest[:2]]
    assert [s.server for s in capped.servers] == [s.server for s in result.tls.servers[:3]]
    assert capped.handshake_ms == result.tls.handshake_ms and capped.alerts == result.tls.alerts
    assert result.limits["tls_examples"] == 50 and result.limits["tls_servers"] == 200
