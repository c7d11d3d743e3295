"""Report details checked in Chromium: the DNS histogram on a log axis, a timeline bucket that follows the
capture's duration, connection addresses in the legend, the Evidence line, chart titles that do not
collide, and a connections table that fits a 1366 px screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from pcap_analyzer import analyze
from pcap_analyzer.report.html import write_html
from pcap_analyzer.report.model import Evidence, Finding
from tests.browser import ARTIFACTS
from tests.engine.report.synthetic import synthetic_result

pytestmark = pytest.mark.browser

DEMO = Path(__file__).resolve().parents[3] / "samples" / "demo.pcap"


def _shot(locator: Any, name: str) -> None:
    """A screenshot of one part of the page, kept under test-artifacts/ for review."""
    ARTIFACTS.mkdir(exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / name))


@pytest.fixture(scope="module")
def demo_html(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """samples/demo.pcap (2.45 s of traffic, built by samples/make_sample.py) analysed by the engine."""
    result = analyze(DEMO)
    return result, write_html(result, tmp_path_factory.mktemp("demo") / "demo.html")


def test_timeline_bucket_follows_the_duration(demo_html: tuple[Any, Path], open_report: Any) -> None:
    result, path = demo_html
    timeline = result.timeline
    assert 2.4 < result.capture.duration_s < 2.5
    # 1 s buckets gave 3 points for this capture; the narrowest bucket (10 ms) fits its 2.45 s in 245
    assert timeline.bucket_s == pytest.approx(0.01) and 200 <= len(timeline.bytes_total) <= 2000
    assert sum(timeline.bytes_total) == result.capture.bytes
    page, log = open_report(path)
    assert "in buckets of 10 ms" in page.inner_text("#timeline")
    assert log.console_errors == [] and log.page_errors == []


def test_legend_names_connections_by_address(demo_html: tuple[Any, Path], open_report: Any) -> None:
    result, path = demo_html
    page, _ = open_report(path)
    names = page.evaluate("() => document.getElementById('timeline-chart').data.map((t) => t.name)")
    by_stream = {c.stream: c for c in result.connections}
    expected = []
    for key in result.timeline.top_connections:
        c = by_stream[int(key.removeprefix("stream "))]
        expected.append(f"{c.client}:{c.client_port} → {c.server}:{c.server_port}")
    assert expected and all(name in names for name in expected), names
    assert not [n for n in names if n.startswith("stream ")]


def test_dns_histogram_bins_on_a_log_axis(tmp_path: Path, open_report: Any) -> None:
    result = synthetic_result(5)
    result.dns.histogram_ms = [
        (0.0, 1.0, 5),
        (1.0, 2.0, 40),
        (2.0, 5.0, 70),
        (10.0, 20.0, 9),
        (500.0, 1590.0, 3),
    ]
    page, log = open_report(write_html(result, tmp_path / "r.html"))
    chart = "document.getElementById('dns-hist')"
    assert page.evaluate(f"() => {chart}.layout.xaxis.type") == "log"
    xs = page.evaluate(f"() => {chart}.data[0].x")
    # each bin is a rectangle from its lower to its upper edge; the first (from 0) starts at 0.1 ms
    corners = [x for x in xs if x is not None]
    assert corners[::5] == [0.1, 1.0, 2.0, 10.0, 500.0] and corners[2::5] == [1.0, 2.0, 5.0, 20.0, 1590.0]
    ys = [y for y in page.evaluate(f"() => {chart}.data[0].y") if y is not None]
    assert ys[1::5] == [5, 40, 70, 9, 3]
    # a log axis: the 1-2 ms and the 10-20 ms bins are equally wide on screen
    widths = page.evaluate(
        f"""() => {{ const ax = {chart}._fullLayout.xaxis;
            return [ax.d2p(2) - ax.d2p(1), ax.d2p(20) - ax.d2p(10)]; }}"""
    )
    assert widths[0] > 20 and widths[0] == pytest.approx(widths[1], abs=0.5)
    _shot(page.locator("#dns"), "report-dns-histogram.png")
    assert log.console_errors == [] and log.page_errors == []


def test_evidence_line_has_no_leading_separator(tmp_path: Path, open_report: Any) -> None:
    result = synthetic_result(5)
    flows_only = Evidence(flows=["* -> 10.0.0.53:53"], frames=[7, 9])
    frames_only = Evidence(frames=[11])
    result.findings += [
        Finding(
            id="dns.unanswered", severity="warning", title="t1", detail="d", impact=1.0, evidence=flows_only
        ),
        Finding(id="dns.nxdomain", severity="info", title="t2", detail="d", impact=0.5, evidence=frames_only),
    ]
    page, _ = open_report(write_html(result, tmp_path / "r.html"))
    lines = [" ".join(t.split()) for t in page.locator(".evidence").all_inner_texts()]
    assert lines[1] == "Evidence: * -> 10.0.0.53:53 · frames 7, 9 · details", lines
    assert lines[2] == "Evidence: frames 11 · details", lines
    assert lines[0].startswith("Evidence: tcp.stream ") and " · · " not in lines[0]


def test_detail_chart_titles_do_not_overlap(tmp_path: Path, open_report: Any) -> None:
    page, log = open_report(write_html(synthetic_result(20), tmp_path / "r.html"))
    page.click("#conn-body tr")
    page.wait_for_selector("#seq-chart .main-svg")
    page.wait_for_selector("#win-chart .main-svg")
    boxes = page.evaluate(
        """() => ['seq-title', 'seq-chart', 'win-title', 'win-chart'].map((id) => {
            const r = document.getElementById(id).getBoundingClientRect(); return [r.top, r.bottom]; })"""
    )
    tops, bottoms = [b[0] for b in boxes], [b[1] for b in boxes]
    assert all(bottoms[i] <= tops[i + 1] + 0.5 for i in range(3)), boxes  # stacked, never on top of another
    for chart in ("seq-chart", "win-chart"):
        title = page.evaluate(f"() => (document.getElementById('{chart}').layout.title || {{}}).text || ''")
        assert title == ""  # the heading above the chart is its title, away from legend and axes
    _shot(page.locator("#conn-detail"), "report-connection-detail.png")
    assert log.console_errors == [] and log.page_errors == []


def test_connections_table_fits_1366_pixels(tmp_path: Path, browser: Any) -> None:
    result = synthetic_result(40)
    v6 = msgspec.structs.replace(
        result.connections[0], stream=999, client="2001:db8:1234:5678:9abc:def0:1234:5678"
    )
    result.connections.append(v6)
    path = write_html(result, tmp_path / "r.html")
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        page = ctx.new_page()
        page.goto(path.as_uri())
        page.wait_for_function("window.PcapReport && window.PcapReport.ready === true", timeout=60_000)
        sizes = page.evaluate(
            """() => { const w = document.querySelector('#connections .table-wrap');
                return [w.scrollWidth, w.clientWidth, document.documentElement.scrollWidth]; }"""
        )
        assert sizes[0] <= sizes[1] and sizes[2] <= 1366, sizes
        _shot(page.locator("#connections"), "report-connections-1366.png")
    finally:
        ctx.close()


def test_connection_counts_have_thousands_separators(tmp_path: Path, open_report: Any) -> None:
    result = synthetic_result(3)
    first = result.connections[0]
    big = {"packets_ab": 10_000, "packets_ba": 2_345, "retransmissions": 1_200, "duplicate_acks": 4_321}
    result.connections[0] = msgspec.structs.replace(first, **big)
    page, log = open_report(write_html(result, tmp_path / "r.html"))
    row = page.locator("#conn-body tr", has_text=f"{first.client}:{first.client_port}").first
    cells = row.locator("td").all_inner_texts()
    assert "12,345" in cells and "1,200" in cells and "4,321" in cells, cells
    assert not log.page_errors
