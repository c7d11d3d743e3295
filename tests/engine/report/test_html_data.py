"""The data island: lossless against the JSON report, safe inside <script>, compact for 50,000 connections."""

from __future__ import annotations

import json
import re
import time
from html.parser import HTMLParser

import pytest

from pcap_analyzer.report.base import from_data, to_data, to_json
from pcap_analyzer.report.html import ASSET_FILES, asset_path, render_html, write_html
from pcap_analyzer.report.html_data import expand_payload, island_payload, script_json
from pcap_analyzer.report.model import AnalysisResult
from tests.engine.report.synthetic import synthetic_result

HOSTILE = '</script><script>window.__pwned=1</script>"><img src=x onerror=alert(1)><!--\u2028\u2029&'


class _Island(HTMLParser):
    """Collects the text of <script id="report-data"> and every tag's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.island: list[str] = []
        self.attrs: list[tuple[str, dict[str, str | None]]] = []
        self._in_island = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs.append((tag, dict(attrs)))
        self._in_island = tag == "script" and dict(attrs).get("id") == "report-data"

    def handle_endtag(self, tag: str) -> None:
        self._in_island = False

    def handle_data(self, data: str) -> None:
        if self._in_island:
            self.island.append(data)


def parse(html: str) -> _Island:
    p = _Island()
    p.feed(html)
    return p


def island_of(html: str) -> dict:
    return json.loads("".join(parse(html).island))


@pytest.mark.parametrize("gzip_above", [10**9, 0], ids=["rows", "gzip-columns"])
def test_island_round_trips_to_the_json_report(gzip_above: int) -> None:
    result = synthetic_result(300, hostile=HOSTILE)
    payload = json.loads(script_json(island_payload(result, gzip_above=gzip_above)))
    assert ("result_gzip" in payload) is (gzip_above == 0)
    assert expand_payload(payload) == to_data(result)
    assert from_data(expand_payload(payload), AnalysisResult) == result


def test_rendered_page_island_equals_model_dump() -> None:
    result = synthetic_result(40, hostile=HOSTILE)
    assert expand_payload(island_of(render_html(result))) == to_data(result)


def test_script_json_cannot_close_the_script_element() -> None:
    text = script_json({"name": HOSTILE})
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert json.loads(text) == {"name": HOSTILE}


def test_capture_strings_are_escaped_in_markup() -> None:
    html = render_html(synthetic_result(5, hostile=HOSTILE))
    parsed = parse(html)
    # The only <script> elements are the data island and our two inline bundles; no injected <img>.
    scripts = [a for tag, a in parsed.attrs if tag == "script"]
    assert len(scripts) == 3 and not any(tag == "img" for tag, _ in parsed.attrs)
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned=1" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_markup_fits_a_strict_csp() -> None:
    """No inline handler or style attribute; every inline script/style carries the nonce."""
    html = render_html(synthetic_result(5), script_nonce="n0nce")
    for tag, attrs in parse(html).attrs:
        assert not [k for k in attrs if k.startswith("on") or k == "style"], (tag, attrs)
        if tag in ("script", "style") and attrs.get("type") != "application/json":
            assert attrs.get("nonce") == "n0nce", tag


def test_external_assets_mode_references_served_files() -> None:
    html = render_html(
        synthetic_result(5), self_contained=False, script_nonce="abc", asset_url="/static/report/"
    )
    srcs = [a.get("src") or a.get("href") for tag, a in parse(html).attrs if tag in ("script", "link")]
    assert "/static/report/plotly.min.js" in srcs and "/static/report/report.js" in srcs
    assert "/static/report/report.css" in srcs
    assert "Copyright 2012" not in html and "ConnTable" not in html  # neither bundle inlined
    for name in ASSET_FILES:
        assert asset_path(name).stat().st_size > 1000
    assert "MIT license" in asset_path("plotly.min.js").read_text(encoding="utf-8")[:400]
    with pytest.raises(ValueError, match="asset_url"):
        render_html(synthetic_result(1), self_contained=False)


def test_50000_connections_stay_under_5_mb_plus_plotly(tmp_path) -> None:
    result = synthetic_result(50_000, seconds=3600)
    start = time.perf_counter()
    path = write_html(result, tmp_path / "big.html")
    elapsed = time.perf_counter() - start
    size = path.stat().st_size - asset_path("plotly.min.js").stat().st_size
    json_size = len(to_json(result))
    print(
        f"50,000 connections: {size / 1e6:.2f} MB without Plotly (JSON report {json_size / 1e6:.1f} MB), "
        f"rendered in {elapsed:.1f} s"
    )
    assert size < 5_000_000
    assert expand_payload(island_of(path.read_text(encoding="utf-8")))["connections"][-1] == (
        to_data(result.connections[-1])
    )
