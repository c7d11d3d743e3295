"""The ICMP and TCP-waits charts in headless Chromium: drawn, with the report's figures, no page error."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcap_analyzer import analyze
from pcap_analyzer.report.html import write_html
from tests.engine.report.conftest import PageLog, chart_points

pytestmark = pytest.mark.browser

CAPTURE = Path(__file__).resolve().parents[2] / "data" / "icmp" / "icmp_netns.pcap"


def test_icmp_and_waits_charts_are_drawn(open_report, tmp_path: Path) -> None:
    result = analyze(CAPTURE)
    page, log = open_report(write_html(result, tmp_path / "icmp.html"))
    assert isinstance(log, PageLog)
    assert log.console_errors == [] and log.page_errors == [] and log.remote_requests == []
    assert chart_points(page, "#icmp-chart") > 0
    assert chart_points(page, "#waits-chart") > 0
    bars = page.evaluate("document.getElementById('icmp-chart').data[0].x")
    assert sorted(bars, reverse=True) == sorted(result.icmp.messages.values(), reverse=True)[: len(bars)]
