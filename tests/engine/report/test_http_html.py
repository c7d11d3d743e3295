"""The HTTP section of the HTML report: tables from the JSON report, one stacked bar per server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pcap_analyzer import analyze
from pcap_analyzer.report.html import render_html, write_html
from tests.browser import save_screenshot

DATA = Path(__file__).resolve().parents[2] / "data" / "http"


def test_http_section_and_latency_bars(tmp_path: Path, open_report: Any) -> None:
    result = analyze(DATA / "http_breakdown.pcap")
    html = render_html(result)
    assert 'id="h-http"' in html and 'id="latency-bars"' in html
    assert "slow.example.test" in html and "/sleep/200" in html
    path = write_html(result, tmp_path / "http.html")
    page, log = open_report(path)
    page.locator("#http").scroll_into_view_if_needed()
    # 2 servers x 3 parts (network, server, transfer), one bar each
    assert page.locator("#latency-bars .barlayer .trace").count() == 3
    assert page.locator("#latency-bars .barlayer .trace .point").count() == 6
    names = page.evaluate("document.getElementById('latency-bars').data.map(t => t.name)")
    assert names == ["network (RTT)", "server", "transfer"]
    server = page.evaluate("document.getElementById('latency-bars').data[1]")
    by_server = dict(zip(server["y"], server["x"], strict=True))
    slow = next(s for s in result.latency_breakdown if s.server == "slow.example.test")
    assert by_server["slow.example.test (6)"] == slow.server_ms
    rows = page.locator("#http table.http-list tbody tr")
    assert rows.count() == result.http.requests
    assert not (log.page_errors or log.console_errors or log.remote_requests)
    save_screenshot(page, "http-section.png")


def test_no_http(tmp_path: Path) -> None:
    html = render_html(analyze(DATA.parent / "dns_hostile_names.pcap"))
    assert "No HTTP/1.x request found" in html and 'id="latency-bars"' not in html
