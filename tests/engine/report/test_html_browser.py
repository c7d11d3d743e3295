"""Reports of corpus captures in headless Chromium: offline, charts drawn, sorting and drill-down work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pcap_analyzer import analyze
from pcap_analyzer.report.base import to_data
from pcap_analyzer.report.html import write_html
from pcap_analyzer.report.model import AnalysisResult
from tests.browser import save_screenshot
from tests.engine.report.conftest import PageLog, chart_points

pytestmark = pytest.mark.browser

CAPTURES = ["netns_mixed.pcapng", "netns_mixed_truncated.pcap", "dns_hostile_names.pcap"]


@pytest.fixture(scope="module")
def reports(
    corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[AnalysisResult, Path]]:
    out = tmp_path_factory.mktemp("reports")
    done = {}
    for name in CAPTURES:
        result = analyze(corpus_dir / name)
        done[name] = (result, write_html(result, out / f"{name}.html"))
    return done


def assert_clean(log: PageLog) -> None:
    assert log.console_errors == [] and log.page_errors == []
    assert log.failed_requests == [] and log.remote_requests == []
    assert log.dialogs == []


def stream_order(page: Any) -> list[int]:
    return [
        int(s) for s in page.eval_on_selector_all("#conn-body tr", "rows => rows.map(r => r.dataset.stream)")
    ]


@pytest.mark.parametrize("name", CAPTURES)
def test_report_opens_offline_with_data_and_charts(reports, open_report, name: str) -> None:
    result, path = reports[name]
    page, log = open_report(path)
    assert_clean(log)
    assert page.evaluate("window.PcapReport.data") == to_data(result)
    assert page.inner_text("#health-score").startswith(str(result.health.score))
    if result.capture.packets:
        assert chart_points(page, "#timeline-chart") > 0
    if result.dns.histogram_ms:
        assert chart_points(page, "#dns-hist") > 0
    shown = min(len(result.connections), 100)
    assert len(stream_order(page)) == shown
    save_screenshot(page, f"report-{name}.png")


def test_sorting_orders_connections(reports, open_report) -> None:
    result, path = reports["netns_mixed.pcapng"]
    assert len(result.connections) >= 3
    page, log = open_report(path)
    assert (
        stream_order(page) == [c.stream for c in result.connections][:100]
    )  # worst first, as the engine ranked

    def total_bytes(c: Any) -> int:
        return c.bytes_ab + c.bytes_ba

    page.click("#conn-head th:nth-child(6) button")  # Bytes: largest first
    desc = sorted(result.connections, key=lambda c: (-total_bytes(c), c.stream))
    assert stream_order(page) == [c.stream for c in desc][:100]
    assert page.get_attribute("#conn-head th:nth-child(6)", "aria-sort") == "descending"
    page.focus("#conn-head th:nth-child(6) button")
    page.keyboard.press("Enter")  # keyboard: same button toggles to ascending
    asc = sorted(result.connections, key=lambda c: (total_bytes(c), c.stream))
    assert stream_order(page) == [c.stream for c in asc][:100]
    page.fill("#conn-filter", result.connections[0].server)
    expected = [
        c
        for c in result.connections
        if result.connections[0].server in f"{c.client}:{c.client_port} {c.server}:{c.server_port}"
    ]
    assert len(stream_order(page)) == min(len(expected), 100)
    assert_clean(log)


def test_connection_drill_down(reports, open_report) -> None:
    result, path = reports["netns_mixed.pcapng"]
    with_detail = {d.stream for d in result.connection_details if d.seq}
    conn = next(c for c in result.connections if c.stream in with_detail)
    page, log = open_report(path)
    assert page.is_hidden("#conn-detail")
    page.focus(f"#conn-body tr[data-stream='{conn.stream}']")
    page.keyboard.press("Enter")
    assert page.is_visible("#conn-detail")
    assert f"tcp.stream {conn.stream}" in page.inner_text("#h-conn-detail")
    assert chart_points(page, "#seq-chart") > 0 and chart_points(page, "#win-chart") > 0
    frames = page.eval_on_selector_all(
        "#flagged-body tr td:first-child", "tds => tds.map(t => t.textContent)"
    )
    assert frames == ([str(p.frame) for p in conn.flagged] or ["No flagged packet."])
    save_screenshot(page, "report-drill-down.png")
    assert_clean(log)


def test_finding_evidence_link_opens_the_connection(reports, open_report) -> None:
    result, path = reports["netns_mixed.pcapng"]
    listed = {c.stream for c in result.connections}
    finding = next((f for f in result.findings if set(f.evidence.streams) & listed), None)
    if finding is None:
        pytest.skip("no finding of this capture names a listed connection")
    stream = next(s for s in finding.evidence.streams if s in listed)
    page, log = open_report(path)
    page.click(f"#verdict a.conn-link[data-stream='{stream}']")
    assert f"tcp.stream {stream}:" in page.inner_text("#h-conn-detail")
    assert_clean(log)
