"""The TLS section's chart in headless Chromium, on the TLS test capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcap_analyzer import analyze
from pcap_analyzer.report.html import write_html
from tests.engine.report.conftest import chart_points
from tests.engine.report.test_html_browser import assert_clean

pytestmark = pytest.mark.browser

CAPTURE = Path(__file__).resolve().parents[2] / "data" / "tls" / "tls_handshakes.pcap"


def test_tls_chart_draws_each_server(open_report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = analyze(CAPTURE)
    page, log = open_report(write_html(result, tmp_path / "tls.html"))
    assert_clean(log)
    timed = [s for s in result.tls.servers if s.hello_ms.count]
    # two bars per server that got a ServerHello (an empty one where no handshake was done)
    assert chart_points(page, "#tls-chart") == 2 * len(timed)
    traces = page.evaluate("document.getElementById('tls-chart').data.map(t => [t.y, t.x])")
    want = list(reversed(timed))  # busiest at the top
    assert traces[0] == [[s.server for s in want], [s.hello_ms.median for s in want]]
    assert traces[1] == [[s.server for s in want], [s.done_ms.median for s in want]]
