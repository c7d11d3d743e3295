"""Wireshark display filters of findings and table rows select, in tshark, the packets behind them."""

from __future__ import annotations

import pytest

from pcap_analyzer.report.model import Finding
from tests.engine.exports.tshark import analysed, frames, needs_tshark, rows

pytestmark = needs_tshark


def _findings(kind: str) -> list[Finding]:
    found = [f for f in analysed().findings if f.id == kind]
    assert found, f"the capture has no {kind} finding"
    return found


def test_every_finding_and_row_has_a_filter_tshark_accepts() -> None:
    r = analysed()
    assert r.findings
    for f in r.findings:
        assert f.filter, f.id
        assert frames(f.filter), (f.id, f.filter)  # valid, and it selects something
    for c in r.connections:
        assert c.filter == f"tcp.stream == {c.stream}"


def test_loss_filter_selects_the_servers_retransmissions() -> None:
    servers = {s.server: s for s in analysed().tcp_servers}
    for f in _findings("tcp.loss"):
        picked = rows(f.filter, "tcp.stream")
        server = next(s for s in servers if s in f.title)
        assert len(picked) == servers[server].retransmissions, f.title
        assert set(f.evidence.streams) <= {int(s) for _, s in picked}


def test_per_server_connection_filters_count_the_servers_connections() -> None:
    servers = {s.server: s for s in analysed().tcp_servers}
    for kind, figure in (("tcp.refused", "refused"), ("tcp.reset", "reset_connections")):
        for f in _findings(kind):
            server = servers[next(s for s in servers if s in f.title)]
            picked = rows(f.filter, "tcp.stream")
            assert len({s for _, s in picked}) == getattr(server, figure), kind
            assert set(f.evidence.streams) <= {int(s) for _, s in picked}, kind
            assert set(f.evidence.frames) <= {int(n) for n, _ in picked}, kind


def test_stream_findings_select_their_evidence() -> None:
    for kind in ("tcp.zero_window",):
        for f in _findings(kind):
            picked = rows(f.filter, "tcp.stream")
            assert {int(s) for _, s in picked} == set(f.evidence.streams), kind
            assert set(f.evidence.frames) <= {int(n) for n, _ in picked}, kind


def test_zero_window_filter_counts_the_connections_zero_windows() -> None:
    conns = {c.stream: c for c in analysed().connections}
    for f in _findings("tcp.zero_window"):
        assert len(frames(f.filter)) == sum(conns[s].zero_windows for s in f.evidence.streams)


def test_dns_filters_select_the_answers_behind_the_finding() -> None:
    r = analysed()
    (slow,) = _findings("dns.slow")
    server = next(s for s in r.dns.servers if s.server in slow.title)
    answers = rows(slow.filter, "dns.response_to")
    assert len(answers) == server.slow_answers
    assert set(slow.evidence.frames) <= {int(q) for _, q in answers}
    (nx,) = _findings("dns.nxdomain")
    nx_answers = rows(nx.filter, "dns.response_to")
    assert len(nx_answers) == r.dns.rcodes["NXDOMAIN"]
    assert set(nx.evidence.frames) <= {int(q) for _, q in nx_answers}


def test_unanswered_dns_filter_selects_the_unanswered_queries() -> None:
    r = analysed()
    (f,) = _findings("dns.unanswered")
    server = next(s for s in r.dns.servers if s.server in f.title)
    picked = frames(f.filter)
    assert set(f.evidence.frames) <= picked
    assert len(picked) == server.unanswered + server.pending_at_end


@pytest.mark.parametrize("rank", [0, 1, 2, 10, 50])
def test_connection_filter_selects_its_packets(rank: int) -> None:
    c = analysed().connections[rank]
    assert len(frames(c.filter)) == c.packets_ab + c.packets_ba
    assert c.first_frame == min(frames(c.filter))


def test_dns_query_filter_selects_query_and_answer() -> None:
    d = analysed().dns
    for q in d.slowest_queries[:3] + d.unanswered_queries[:3]:
        picked = rows(q.filter, "dns.flags.response")
        assert picked[0] == [str(q.frame), "0"]
        assert len(picked) == (1 if q.response_time_ms is None else 2)


def test_talker_filter_counts_its_packets() -> None:
    for t in analysed().top_talkers[:2]:
        assert len(frames(t.filter)) == t.packets + t.packets_received


def test_every_kind_of_filter_compiles_in_tshark() -> None:
    """Each filter builder (also for kinds this capture does not trigger) gives a filter tshark accepts."""
    import subprocess

    from pcap_analyzer.config import AnalysisConfig
    from pcap_analyzer.diagnose.filters import _BUILDERS, finding_filter, request_filter
    from pcap_analyzer.report.model import Evidence
    from tests.engine.exports.tshark import CAPTURE, TSHARK

    r = analysed()
    small = CAPTURE.parent / "dns_hostile_names.pcap"
    evidence = Evidence(streams=[1, 2], frames=[3], flows=["10.77.1.1:5000 -> 10.77.2.1:5004"])
    built = [request_filter(3, 17), request_filter(None, 17)]
    for kind in [*_BUILDERS, "other.kind"]:
        f = Finding(
            id=kind,
            severity="info",
            title="10.77.2.1:5001 and 10.77.2.1",
            detail="",
            impact=0,
            evidence=evidence,
        )
        built.append(finding_filter(f, r, AnalysisConfig()))
    for text in built:
        assert text
        done = subprocess.run(
            [TSHARK or "tshark", "-n", "-r", str(small), "-Y", text],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (text, done.stderr)
