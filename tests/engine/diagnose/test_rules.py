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
    TcpServer,
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


def _server(port: int, **kw: object) -> TcpServer:
    return TcpServer(server=f"10.0.0.2:{port}", **kw)  # type: ignore[arg-type]


def test_loss_and_rto_share_over_all_traffic_to_the_server() -> None:
    # 2 of 10 connections resent 4 of 200 data segments (2%); 300 ms of 2 s of connection time waited (15%)
    conns = [
        _conn(
            i,
            5001,
            retransmissions=2,
            retransmission_pct=10.0,
            rto_time_ms=150.0,
            flagged=[FlaggedPacket(frame=100 + i, ts=0.0, direction=0, flags=["retransmission"])],
        )
        for i in range(2)
    ]
    srv = _server(
        5001, connections=10, data_segments=200, retransmissions=4, affected_connections=2,
        rto_wait_ms=300.0, rto_connections=2, connection_time_s=2.0,
    )  # fmt: skip
    cfg = AnalysisConfig(min_evidence_events=4)
    health, findings = diagnose(_result(connections=conns, tcp_servers=[srv]), cfg)
    (loss,) = findings
    assert loss.id == "tcp.loss" and loss.severity == "warning"
    assert loss.title == (
        "Transfers to 10.0.0.2:5001 lost 2.0% of segments (4 of 200 resent); 15% of their connection time "
        "was spent waiting for retransmission timeouts"
    )
    assert loss.detail.startswith("2 of 10 connections to this server had retransmissions")
    assert loss.evidence.streams == [0, 1] and loss.evidence.frames == [100, 101]
    # the score's reason is the finding: same code, same title, impact 6 x 2% + 0.5 x 15%
    assert [(r.code, r.message, r.penalty) for r in health.reasons] == [("tcp.loss", loss.title, 19.5)]
    assert health.score == 80  # round(100 - 19.5)


def test_two_retransmissions_among_many_segments_stay_info() -> None:
    srv = _server(8080, connections=3000, data_segments=30000, retransmissions=2, affected_connections=2)
    health, findings = diagnose(_result(tcp_servers=[srv]), CFG)
    (loss,) = findings
    assert loss.severity == "info" and "2 of 30,000 resent" in loss.title
    assert (health.score, health.reasons) == (100, [])


def test_small_sample_is_never_critical_and_says_so() -> None:
    # 20% loss, but over 50 segments: a warning based on 50 packets, not a critical finding
    srv = _server(80, connections=2, data_segments=50, retransmissions=10, affected_connections=2)
    _, (loss,) = diagnose(_result(tcp_servers=[srv]), CFG)
    assert loss.severity == "warning" and "Based on 50 packets only" in loss.detail
    big = _server(80, connections=2, data_segments=500, retransmissions=100, affected_connections=2)
    _, (loss,) = diagnose(_result(tcp_servers=[big]), CFG)
    assert loss.severity == "critical" and "Based on" not in loss.detail


def test_refused_and_unanswered_connections() -> None:
    conns = [_conn(i, 9999, state="REJ", resets=1) for i in range(20)]
    conns += [_conn(20 + i, 22, state="S0") for i in range(5)]
    servers = [_server(9999, connections=20, refused=20), _server(22, connections=5, never_answered=5)]
    tcp = TcpSummary(conversations=25, syn=25, refused_connections=20, unanswered_connections=25,
                     never_answered_connections=5)  # fmt: skip
    health, findings = diagnose(_result(tcp=tcp, connections=conns, tcp_servers=servers), CFG)
    penalties = {r.code: r.penalty for r in health.reasons}
    assert penalties == {"tcp.refused": 10.0, "tcp.unanswered_syn": 10.0}  # 2 + 0.5 x 100%, capped at 10
    titles = {f.id: f.title for f in findings}
    assert titles["tcp.refused"] == "20 of 20 connection attempts to 10.0.0.2:9999 were refused (RST)"
    assert titles["tcp.unanswered_syn"] == "5 of 5 connection attempts to 10.0.0.2:22 were never answered"
    unanswered = next(f for f in findings if f.id == "tcp.unanswered_syn")
    assert unanswered.evidence.streams == [20, 21, 22, 23, 24]  # no refused connection among them
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
        pending_at_end=2,
        unanswered_queries=missing,
        servers=[DnsServer(server="10.0.0.53", queries=300, unanswered=7, pending_at_end=2)],
    )
    health, findings = diagnose(_result(dns=dns), CFG)
    assert findings[0].title == "DNS server 10.0.0.53 left 7 of 300 queries unanswered (2.3%)"
    assert "2 more queries were sent less than 5 s before the capture ended" in findings[0].detail
    assert findings[0].evidence.frames == [3, 7]
    assert health.reasons[0].code == "dns.unanswered"
    assert health.reasons[0].penalty == pytest.approx(7.0)  # 3 x 2.33%


def test_findings_rank_critical_first_and_thresholds_come_from_config() -> None:
    servers = [
        _server(80, connections=1, data_segments=1000, retransmissions=100, affected_connections=1),
        _server(9999, connections=10, refused=10),
    ]
    _, findings = diagnose(_result(tcp_servers=servers), CFG)
    assert [(f.id, f.severity) for f in findings] == [("tcp.loss", "critical"), ("tcp.refused", "warning")]
    strict = AnalysisConfig(retrans_critical_pct=50.0, retrans_warning_pct=20.0)
    _, relaxed = diagnose(_result(tcp_servers=servers), strict)
    assert {f.id: f.severity for f in relaxed}["tcp.loss"] == "info"
    few = AnalysisConfig(min_evidence_events=11)
    _, kept = diagnose(_result(tcp_servers=servers), few)
    assert {f.id: f.severity for f in kept}["tcp.refused"] == "info"  # 10 refused, 11 needed


def test_truncated_capture_lowers_the_score() -> None:
    r = _result()
    r.capture.truncated = True
    health, findings = diagnose(r, CFG)
    assert health.score == 95 and findings[0].id == "capture.truncated"


def test_empty_capture_has_nothing_to_judge() -> None:
    r = _result()
    r.capture.packets = 0
    health, findings = diagnose(r, CFG)
    assert health.score is None and health.note and "nothing to judge" in health.note and findings == []
