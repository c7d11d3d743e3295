"""The web-service form of the report (external assets, nonce) runs under a strict Content-Security-Policy."""

from __future__ import annotations

import pytest

from pcap_analyzer.report.html import ASSET_FILES, asset_path, render_html
from tests.engine.report.conftest import chart_points
from tests.engine.report.synthetic import synthetic_result

pytestmark = pytest.mark.browser

ORIGIN = "http://report.test"
NONCE = "rAnd0mN0nce"
CSP = (
    f"default-src 'none'; script-src 'nonce-{NONCE}'; style-src 'self' 'nonce-{NONCE}'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'none'; base-uri 'none'; form-action 'none'"
)
TYPES = {"js": "text/javascript", "css": "text/css"}


@pytest.mark.parametrize("n_connections", [30, 3000], ids=["inline-rows", "compressed"])
def test_report_under_strict_csp(browser, n_connections: int) -> None:
    html = render_html(
        synthetic_result(n_connections), self_contained=False, script_nonce=NONCE, asset_url="/static/report"
    )
    served: list[str] = []

    def handle(route) -> None:
        path = route.request.url[len(ORIGIN) :]
        served.append(path)
        if path == "/report":
            route.fulfill(
                status=200, body=html, headers={"Content-Type": "text/html", "Content-Security-Policy": CSP}
            )
            return
        name = path.rsplit("/", 1)[-1]
        if path.startswith("/static/report/") and name in ASSET_FILES:
            body = asset_path(name).read_bytes()
            route.fulfill(status=200, body=body, headers={"Content-Type": TYPES[name.rsplit(".", 1)[-1]]})
            return
        route.fulfill(status=404, body="")

    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        messages: list[str] = []
        page.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: messages.append(str(e)))
        page.route(f"{ORIGIN}/**", handle)
        page.goto(f"{ORIGIN}/report")
        page.wait_for_function("window.PcapReport && window.PcapReport.ready === true", timeout=30_000)
        assert chart_points(page, "#timeline-chart") > 0
        page.click("#conn-body tr:first-child")
        assert page.is_visible("#conn-detail")
        assert messages == []  # a CSP violation is logged as a console error
        assert sorted(served) == [
            "/report",
            "/static/report/plotly.min.js",
            "/static/report/report.css",
            "/static/report/report.js",
        ]
    finally:
        ctx.close()
