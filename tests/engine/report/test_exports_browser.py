"""The report's CSV downloads equal `analyze --csv`'s files, and copy buttons put the Wireshark filters on the
clipboard (headless Chromium)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pcap_analyzer import analyze
from pcap_analyzer.report.html import write_html
from pcap_analyzer.report.model import AnalysisResult

pytestmark = pytest.mark.browser

CAPTURES = ["netns_mixed_s128.pcap", "dns_hostile_names.pcap"]


@pytest.fixture(scope="module")
def reports(
    corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[AnalysisResult, Path, Path]]:
    out = tmp_path_factory.mktemp("exports")
    done = {}
    for name in CAPTURES:
        result = analyze(corpus_dir / name)
        csv_dir = out / f"{name}-csv"
        # the command line's files, from a separate process (the fast path)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pcap_analyzer",
                "analyze",
                str(corpus_dir / name),
                "--csv",
                str(csv_dir),
                "-q",
            ],
            check=True,
            timeout=300,
        )
        done[name] = (result, write_html(result, out / f"{name}.html"), csv_dir)
    return done


@pytest.mark.parametrize("name", CAPTURES)
def test_csv_downloads_equal_the_command_line_files(reports: Any, open_report: Any, name: str) -> None:
    result, html, csv_dir = reports[name]
    page, log = open_report(html)
    assert log.page_errors == [] and log.console_errors == []
    assert page.locator("#services-table tbody tr").count() == len(result.services)
    assert page.locator("#dns-domains-table tbody tr").count() == len(result.dns.domains)
    buttons = page.eval_on_selector_all("#csv-downloads button", "bs => bs.map(b => b.dataset.file)")
    files = sorted(p.name for p in csv_dir.glob("*.csv"))
    assert sorted(buttons) == files and "connections.csv" in files
    for file in buttons:
        with page.expect_download() as info:
            page.click(f"#csv-downloads button[data-file='{file}']")
        download = info.value
        assert download.suggested_filename == file
        got = Path(download.path()).read_bytes()
        expected = (csv_dir / file).read_bytes()
        # the CLI's result was computed separately: only elapsed/analyzed_at differ, none is in a table
        assert got == expected, file


def test_copy_buttons_put_filters_on_the_clipboard(reports: Any, open_report: Any) -> None:
    result, html, _ = reports["netns_mixed_s128.pcap"]
    page, log = open_report(html)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    shown = page.eval_on_selector_all(
        ".finding-filter button.copy-filter", "bs => bs.map(b => b.dataset.filter)"
    )
    assert shown == [f.filter for f in result.findings if f.filter] and shown
    page.click("#finding-1 button.copy-filter")
    assert page.evaluate("navigator.clipboard.readText()") == result.findings[0].filter
    assert page.inner_text("#finding-1 button.copy-filter") == "Copied"
    # a connection row's button copies its filter and does not open the row's detail
    first = result.connections[0]
    page.click(f"#conn-{first.stream} button.copy-filter")
    assert page.evaluate("navigator.clipboard.readText()") == f"tcp.stream == {first.stream}"
    assert page.is_hidden("#conn-detail")
    assert log.page_errors == []


def test_downloads_and_copy_under_the_web_services_strict_csp(reports: Any, browser: Any) -> None:
    """The web service serves the report with external assets, a nonce and default-src 'none', over plain
    http (not a secure context: no Clipboard API, the copy falls back to a selection)."""
    from pcap_analyzer.report.html import ASSET_FILES, asset_path, render_html
    from tests.engine.report.test_html_csp import CSP, NONCE, ORIGIN, TYPES

    result, _, csv_dir = reports["netns_mixed_s128.pcap"]
    html = render_html(result, self_contained=False, script_nonce=NONCE, asset_url="/static/report")

    def handle(route: Any) -> None:
        path = route.request.url[len(ORIGIN) :]
        name = path.rsplit("/", 1)[-1]
        if path == "/report":
            headers = {"Content-Type": "text/html", "Content-Security-Policy": CSP}
            route.fulfill(status=200, body=html, headers=headers)
        elif path.startswith("/static/report/") and name in ASSET_FILES:
            body = asset_path(name).read_bytes()
            route.fulfill(status=200, body=body, headers={"Content-Type": TYPES[name.rsplit(".", 1)[-1]]})
        else:
            route.fulfill(status=404, body="")

    ctx = browser.new_context(accept_downloads=True)
    try:
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route(f"{ORIGIN}/**", handle)
        page.goto(f"{ORIGIN}/report")
        page.wait_for_function("window.PcapReport && window.PcapReport.ready === true", timeout=60_000)
        with page.expect_download() as info:
            page.click("#csv-downloads button[data-file='findings.csv']")
        assert Path(info.value.path()).read_bytes() == (csv_dir / "findings.csv").read_bytes()
        assert page.evaluate("window.isSecureContext") is False
        page.click("#finding-1 button.copy-filter")
        assert page.inner_text("#finding-1 button.copy-filter") == "Copied"
        assert errors == []  # a CSP violation is logged as a console error
    finally:
        ctx.close()
