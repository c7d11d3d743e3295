"""Layout in Chromium: an empty capture, print media, dark mode following the system setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from pcap_analyzer.report.html import write_html
from pcap_analyzer.report.model import AnalysisResult, CaptureInfo, Generator
from tests.browser import ARTIFACTS
from tests.engine.report.conftest import chart_points
from tests.engine.report.synthetic import synthetic_result

pytestmark = pytest.mark.browser


def test_empty_capture_report(tmp_path: Path, open_report) -> None:
    empty = AnalysisResult(
        generator=Generator(version="0"),
        analyzed_at="2026-11-24T10:00:00Z",
        capture=CaptureInfo(file_name="empty.pcap", file_size=24, format="pcap"),
    )
    page, log = open_report(write_html(empty, tmp_path / "empty.html"))
    assert log.console_errors == [] and log.page_errors == [] and log.remote_requests == []
    assert page.inner_text("#conn-count") == "0 of 0 connections"
    assert chart_points(page, "#timeline-chart") == 0
    assert "No problem found." in page.inner_text("#verdict")


def test_print_layout_and_pdf(tmp_path: Path, open_report) -> None:
    page, _ = open_report(write_html(synthetic_result(30), tmp_path / "r.html"))
    page.emulate_media(media="print")
    assert page.is_hidden("#conn-filter") and page.is_hidden("nav.toc")
    assert page.is_visible("#conn-table") and page.is_visible("#timeline-chart svg.main-svg")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / "report-print.pdf"))
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000


def test_print_shows_the_whole_sorted_table_not_one_page(tmp_path: Path, open_report) -> None:
    page, log = open_report(write_html(synthetic_result(250), tmp_path / "r.html"))
    rows = "document.querySelectorAll('#conn-body tr').length"
    assert page.evaluate(rows) == 100  # one page on screen
    page.emulate_media(media="print")
    page.wait_for_function(f"{rows} === 250", timeout=5000)
    assert "First 250 of 250 rows" in page.inner_text("#conn-page")
    page.emulate_media(media="screen")
    page.wait_for_function(f"{rows} === 100", timeout=5000)
    assert log.console_errors == [] and log.page_errors == []


def test_dark_mode_follows_the_system(tmp_path: Path, open_report) -> None:
    path = write_html(synthetic_result(5), tmp_path / "r.html")
    light, _ = open_report(path, color_scheme="light")
    dark, _ = open_report(path, color_scheme="dark")
    background = "getComputedStyle(document.body).backgroundColor"
    assert light.evaluate(background) == "rgb(255, 255, 255)"
    assert dark.evaluate(background) == "rgb(13, 17, 23)"
    # Plotly's text follows the page's text colour.
    font = "document.querySelector('#timeline-chart .xtitle').style.fill"
    assert light.evaluate(font) != dark.evaluate(font)
