"""Health score and findings on hand-built results: the formula in diagnose/health.py, checked by hand."""

from __future__ import annotations

import pytest

from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.diagnose.findings import diagnose
from pcap_analyzer.report.model import (
    AnalysisResult,
    CaptureInfo,
    DnsQueryInfo,
    DnsServer,
    DnsSummary,
    FlaggedPacket,
    Generator,
    TcpConnection,
    TcpSummary,
)

CFG = AnalysisConfig()


def _result(**kw: object) -> AnalysisResult:
    cap = CaptureInfo(file_name="x.pcap", file_size=1, format="pcap", packets=1000)
    return AnalysisResult(
        generator=Generator(version="t"), analyzed_at="2026-01-01T00:00:00+00:00", capture=cap, **kw
    )  # type: ignore[arg-type]


def _conn(stream: int, server_port: int = 80, **kw: object) -> TcpConnection:
    base: dict[str, object] = dict(
        stream=stream,
        client="10.0.0.1",
        client_port=40000 + stream,
        server="10.0.0.2",
        server_port=server_port,
        first_frame=10 * stream + 1,
        first_ts=0.0,
        duration_s=1.0,
        packets_ab=100,
        packets_ba=50,
        bytes_ab=10,
        bytes_ba=10,
    )
    base.update(kw)
    return TcpConnection(**base)  # type: ignore[arg-type]


def test_clean_capture_scores_100_without_findings() -> None:
    health, findings = diagnose(_result(), CFG)
    assert (health.score, health.reasons, findings) == (100, [], [])


def test_loss_and_rto_share() -> None:
    # 2 connections x 100 data segments, 4 retransmissions (2%); 300 ms of the 2 s spent in RTO waits (15%)
    conns = [
        _conn(
            i,
            5001,
            retransmissions=2,
            retransmission_pct=2.0,
            rto_time_ms=150.0,
            flagged=[FlaggedPacket(frame=100 + i, ts=0.0, direction=0, flags=["retransmission"])],
        )
        for i in range(2)
    ]
    tcp = TcpSummary(conversations=2, retransmissions=4, data_segments=200)
    health, findings = diagnose(_result(tcp=tcp, connections=conns), CFG)
    assert [r.code for r in health.reasons] == ["tcp.retransmissions", "tcp.rto_time"]
    assert [r.penalty for r in health.reasons] == [12.0, 7.5]  # 6 x 2%, 0.5 x 15%
    assert health.score == 80  # round(100 - 19.5)
    (loss,) = findings
    assert loss.id == "tcp.loss" and loss.severity == "warning"
    assert loss.title == (
        "Transfers to 10.0.0.2:5001 lost 2.0% of segments; up to 15% of their duration was spent "
        "waiting for retransmission timeouts"
    )
    assert loss.evidence.streams == [0, 1] and loss.evidence.frames == [100, 101]


def test_refused_and_unanswered_connections() -> None:
    conns = [_conn(i, 9999, state="REJ", resets=1) for i in range(20)]
    conns += [_conn(20 + i, 22, state="S0") for i in range(5)]
    tcp = TcpSummary(conversations=25, syn=25, refused_connections=20, unanswered_connections=25)
    health, findings = diagnose(_result(tcp=tcp, connections=conns), CFG)
    penalties = {r.code: r.penalty for r in health.reasons}
    assert penalties == {"tcp.refused": 10.0, "tcp.unanswered_syn": 10.0}  # 0.5 x 80% and 0.5 x 20%, capped
    titles = {f.id: f.title for f in findings}
    assert titles["tcp.refused"] == "20 connection attempts to 10.0.0.2:9999 were refused (RST)"
    assert titles["tcp.unanswered_syn"] == "5 connection attempts to 10.0.0.2:22 were never answered"
    assert "tcp.reset" not in titles  # a refused connection is not an aborted one


def test_zero_window_receiver_is_named_from_flagged_direction() -> None:
    flagged = [FlaggedPacket(frame=f, ts=0.0, direction=1, flags=["zero_window"]) for f in (5, 9, 13)]
    conns = [_conn(0, 5002, zero_windows=100, flagged=flagged)]
    health, findings = diagnose(_result(tcp=TcpSummary(zero_windows=100), connections=conns), CFG)
    assert findings[0].title == (
        "Receiver 10.0.0.2 advertised a zero window 100 times: the application is not reading fast enough"
    )
    assert findings[0].evidence.frames == [5, 9, 13]
    assert health.reasons[0].penalty == 10.0  # 2 x log2(101) = 13.3, capped at 10


def test_unanswered_dns_server() -> None:
    missing = [
        DnsQueryInfo(frame=f, ts=float(f), client="10.0.0.1", server="10.0.0.53", name="a.", qtype="A")
        for f in (3, 7)
    ]
    dns = DnsSummary(
        queries=300,
        responses=293,
        unanswered=7,
        unanswered_queries=missing,
        servers=[DnsServer(server="10.0.0.53", queries=300, unanswered=7)],
    )
    r = _result(dns=dns)
    r.capture.last_ts = 8.5  # the query at t=7 s may have been answered after the capture stopped
    health, findings = diagnose(r, CFG)
    assert findings[0].title == "DNS server 10.0.0.53 left 7 of 300 queries unanswered"
    assert "1 of the listed queries were sent in the last 2 s of the capture" in findings[0].detail
    assert findings[0].evidence.frames == [3, 7]
    assert health.reasons[0].code == "dns.unanswered"
    assert health.reasons[0].penalty == pytest.approx(7.0)  # 3 x 2.33%


def test_findings_rank_critical_first_and_thresholds_come_from_config() -> None:
    conns = [_conn(0, 80, retransmissions=10, retransmission_pct=10.0), _conn(1, 9999, state="REJ")]
    _, findings = diagnose(_result(connections=conns), CFG)
    assert [f.severity for f in findings] == ["critical", "warning"]
    strict = AnalysisConfig(retrans_critical_pct=50.0, retrans_warning_pct=20.0)
    _, relaxed = diagnose(_result(connections=conns), strict)
    assert {f.id: f.severity for f in relaxed}["tcp.loss"] == "info"


def test_truncated_capture_lowers_the_score() -> None:
    r = _result()
    r.capture.truncated = True
    health, findings = diagnose(r, CFG)
    assert health.score == 95 and findings[0].id == "capture.truncated"
