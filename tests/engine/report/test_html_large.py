"""50,000 connections in the browser: the page decodes the compressed data and the table stays responsive."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pcap_analyzer.report.html import write_html
from tests.browser import save_screenshot
from tests.engine.report.conftest import chart_points
from tests.engine.report.synthetic import synthetic_result

pytestmark = pytest.mark.browser


def test_50000_connections_load_sort_filter_and_page(tmp_path: Path, open_report) -> None:
    result = synthetic_result(50_000, seconds=600)
    path = write_html(result, tmp_path / "big.html")
    start = time.perf_counter()
    page, log = open_report(path, color_scheme="dark")
    loaded = time.perf_counter() - start
    assert page.evaluate("window.PcapReport.data.connections.length") == 50_000
    assert page.evaluate("document.querySelectorAll('#conn-body tr').length") == 100
    assert page.inner_text("#conn-page") == "Page 1 of 500"

    start = time.perf_counter()
    page.click("#conn-head th:nth-child(7) button")  # Duration, longest first
    sorted_in = time.perf_counter() - start
    longest = max(result.connections, key=lambda c: (c.duration_s, -c.stream))
    assert page.get_attribute("#conn-body tr:first-child", "data-stream") == str(longest.stream)
    page.click("#conn-next")
    assert page.inner_text("#conn-page") == "Page 2 of 500"

    page.fill("#conn-filter", "RSTO")
    rsto = sum(1 for c in result.connections if c.state == "RSTO")
    assert page.inner_text("#conn-count") == f"{rsto} of 50000 connections"
    assert chart_points(page, "#timeline-chart") > 0
    print(f"50,000 connections: page ready in {loaded:.1f} s, sort in {sorted_in:.2f} s")
    assert sorted_in < 5  # generous: the machine is shared; typical is well under a second
    save_screenshot(page, "report-50k-dark.png")
    assert log.console_errors == [] and log.page_errors == [] and log.remote_requests == []
