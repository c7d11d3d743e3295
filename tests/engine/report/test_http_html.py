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


def test_latency_per_connection_table(tmp_path: Path, open_report: Any) -> None:
    """One row per connection of `latency_connections` (most time first), its copy button puts `tcp.stream
    == N` on the clipboard, and the page's latency_connections.csv equals the command line's file."""
    from pcap_analyzer.report.csv_export import write_csv

    result = analyze(DATA / "http_mixed.pcap")
    lc = result.latency_connections
    assert len(lc) == result.http.connections
    path = write_html(result, tmp_path / "http.html")
    page, log = open_report(path)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    rows = page.locator("#http table.latency-connections tbody tr")
    assert rows.count() == len(lc)
    streams = rows.evaluate_all("rs => rs.map(r => Number(r.dataset.stream))")
    assert streams == [c.stream for c in lc]
    first = rows.nth(0)
    cells = first.locator("td").all_inner_texts()
    c = lc[0]
    assert cells[:6] == [str(c.stream), f"{c.client}:{c.client_port}", f"{c.server}:{c.server_port}",
                         ", ".join(c.names), "http", str(c.exchanges)]
    assert cells[13] == f"{c.slowest_ms:,.2f} ({c.slowest_frame})"
    first.locator("button.copy-filter").click()
    assert page.evaluate("navigator.clipboard.readText()") == f"tcp.stream == {c.stream}"
    write_csv(result, tmp_path / "csv")
    expected = (tmp_path / "csv" / "latency_connections.csv").read_bytes().decode("utf-8")
    assert page.evaluate("window.PcapReport.csv('latency_connections.csv')") == expected
    assert not (log.page_errors or log.console_errors or log.remote_requests)


def test_latency_per_connection_cap_is_said(tmp_path: Path) -> None:
    html = render_html(analyze(DATA / "http_mixed.pcap", config={"max_latency_connections": 2}))
    assert html.count('<tr data-stream="') == 2 and "most time first (the first 2)" in html
    assert "most time first (the first" not in render_html(analyze(DATA / "http_mixed.pcap"))
