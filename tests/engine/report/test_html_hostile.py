"""Capture strings that carry HTML/JS (DNS names, the file name) are shown as text and never run."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from pcap_analyzer import analyze
from pcap_analyzer.report.base import to_data
from pcap_analyzer.report.html import write_html
from tests.browser import save_screenshot
from tests.engine.builders import records_from_scapy, write_pcap

pytestmark = pytest.mark.browser

# Each payload would set window.__pwned or open a dialog if it ever reached the DOM as markup or code.
PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><script>window.__pwned=1</script>",
    "<img src=x onerror=window.__pwned=2>",
]
FILE_NAME = '<script>window.__pwned=3<\\script>"><img src=x onerror=alert(1)>.pcap'  # no "/" in a file name


def hostile_capture(tmp_path: Path) -> Path:
    """DNS queries (never answered) whose names are the payloads, in a file whose name is one too."""
    pkts = [
        Ether()
        / IP(src="10.0.0.1", dst="10.0.0.53")
        / UDP(sport=40000 + i, dport=53)
        / DNS(id=i + 1, rd=1, qd=DNSQR(qname=p.encode() + b".example"))
        for i, p in enumerate(PAYLOADS)
    ]
    # a last packet 10 s later: every query is older than dns_timeout_s, so unanswered (and listed)
    pkts.append(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=9, dport=9))
    return write_pcap(tmp_path / FILE_NAME, records_from_scapy(pkts, step_ns=10_000_000_000))


def assert_inert(page, log) -> None:
    # __pwned: our payloads; __xss_fired: the markers in the corpus capture dns_hostile_names.pcap.
    assert page.evaluate("[typeof window.__pwned, typeof window.__xss_fired]") == ["undefined", "undefined"]
    assert log.dialogs == [] and log.page_errors == [] and log.remote_requests == []
    assert page.evaluate("document.querySelectorAll('img').length") == 0


def test_hostile_dns_names_and_file_name_do_not_execute(tmp_path: Path, open_report) -> None:
    result = analyze(hostile_capture(tmp_path))
    names = {q.name for q in result.dns.unanswered_queries}
    assert {p + ".example" for p in PAYLOADS} <= names  # the engine kept the names verbatim
    # A web upload keeps the user's file name, which may hold "/" as well.
    result = msgspec.structs.replace(
        result, capture=msgspec.structs.replace(result.capture, file_name=FILE_NAME + "</script>")
    )
    page, log = open_report(write_html(result, tmp_path / "hostile.html"))
    assert_inert(page, log)
    body = page.inner_text("body")
    for payload in PAYLOADS:
        assert payload + ".example" in body  # visible as text
    assert FILE_NAME + "</script>" in page.inner_text("h1")
    assert page.evaluate("window.PcapReport.data") == to_data(result)
    save_screenshot(page, "report-hostile.png")


def test_corpus_hostile_names_do_not_execute(corpus_dir: Path, tmp_path: Path, open_report) -> None:
    result = analyze(corpus_dir / "dns_hostile_names.pcap")
    page, log = open_report(write_html(result, tmp_path / "corpus-hostile.html"))
    assert_inert(page, log)
    shown = page.inner_text("#dns")
    listed = result.dns.unanswered_queries + result.dns.error_responses + result.dns.slowest_queries
    assert listed and all(q.name in shown for q in listed)
    assert any("</script>" in q.name for q in listed) and any("onerror=" in q.name for q in listed)
