"""Health score and findings from the whole engine on captures whose problems are known by construction."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP

from pcap_analyzer import analyze
from pcap_analyzer.report.model import AnalysisResult, Finding
from tests.engine.diagnose.scenarios import (
    Capture,
    dns_queries,
    lossy_transfer,
    refused_connections,
    zero_window_receiver,
)


def _only(result: AnalysisResult, kind: str) -> Finding:
    found = [f for f in result.findings if f.id == kind]
    assert len(found) == 1, [f.title for f in result.findings]
    return found[0]


def _analyze(cap: Capture, tmp_path: Path) -> AnalysisResult:
    return analyze(cap.write(tmp_path / "c.pcap"))


def test_lossy_transfer(tmp_path: Path) -> None:
    cap = Capture()
    retrans = lossy_transfer(cap, "10.99.0.1", "10.99.0.2", 5001, segments=400, lost={50, 180, 320})
    r = _analyze(cap, tmp_path)
    assert r.tcp.retransmissions == 3
    f = _only(r, "tcp.loss")
    m = re.fullmatch(
        r"Transfers to 10\.99\.0\.2:5001 lost ([\d.]+)% of segments \(3 of 403 resent\); (\d+)% of their "
        r"connection time was spent waiting for retransmission timeouts",
        f.title,
    )
    assert m, f.title
    assert float(m[1]) == pytest.approx(100 * 3 / 403, abs=0.05)  # 3 resent of 403 data segments
    # 3 stalls of 200 ms in a connection of about 1.2 s
    assert 30 <= int(m[2]) <= 60
    assert f.evidence.frames == retrans and f.evidence.streams == [0]
    # 3 retransmissions are fewer than min_evidence_events (5): info, the score is untouched
    assert f.severity == "info" and r.health.score == 100
    strict = analyze(tmp_path / "c.pcap", config={"min_evidence_events": 3})
    assert _only(strict, "tcp.loss").severity == "warning"
    assert [x.message for x in strict.health.reasons] == [_only(strict, "tcp.loss").title]


def test_zero_window_receiver(tmp_path: Path) -> None:
    cap = Capture()
    frames = zero_window_receiver(cap, "10.99.0.1", "10.99.0.3", 8080, zero_windows=10)
    r = _analyze(cap, tmp_path)
    assert r.tcp.zero_windows == 10
    f = _only(r, "tcp.zero_window")
    assert f.title.startswith("Receiver 10.99.0.3 advertised a zero window 10 times")
    assert set(f.evidence.frames) <= set(frames) and f.evidence.frames
    assert any(x.code == "tcp.zero_window" for x in r.health.reasons)


def test_refused_connections(tmp_path: Path) -> None:
    cap = Capture()
    firsts = refused_connections(cap, "10.99.0.1", "10.99.0.2", 9999, count=20)
    r = _analyze(cap, tmp_path)
    assert (r.tcp.refused_connections, r.tcp.resets) == (20, 20)
    f = _only(r, "tcp.refused")
    assert f.title == "20 of 20 connection attempts to 10.99.0.2:9999 were refused (RST)"
    assert f.evidence.frames == [f + 1 for f in firsts]  # the RST answering each SYN
    assert len(f.evidence.streams) == 20
    assert not [x for x in r.findings if x.id == "tcp.reset"]
    assert r.health.reasons[0].code == "tcp.refused"


def test_unanswered_dns(tmp_path: Path) -> None:
    cap = Capture()
    missing = dns_queries(cap, "10.99.0.1", "10.99.0.53", 300, unanswered={3, 50, 99, 150, 200, 250, 299})
    cap.add(IP(src="10.99.0.1", dst="10.99.0.9") / UDP(sport=9, dport=9), dt=10.0)  # capture ends 10 s later
    r = _analyze(cap, tmp_path)
    assert (r.dns.queries, r.dns.responses, r.dns.unanswered, r.dns.pending_at_end) == (300, 293, 7, 0)
    f = _only(r, "dns.unanswered")
    assert f.title == "DNS server 10.99.0.53 left 7 of 300 queries unanswered (2.3%)"
    assert f.evidence.frames == missing
    assert r.health.reasons[0].code == "dns.unanswered"


def test_healthy_transfer_has_no_findings(tmp_path: Path) -> None:
    cap = Capture()
    lossy_transfer(cap, "10.99.0.1", "10.99.0.2", 80, segments=50, lost=set())
    r = _analyze(cap, tmp_path)
    assert (r.health.score, r.findings) == (100, [])
