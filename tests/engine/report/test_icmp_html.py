"""The ICMP and TCP-waits sections of the HTML report and the CLI summary lines, on the ICMP capture."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pcap_analyzer.api import analyze
from pcap_analyzer.report.html import render_html

ICMP_DIR = Path(__file__).resolve().parents[2] / "data" / "icmp"
CAPTURE = ICMP_DIR / "icmp_netns.pcap"


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ICMP_DIR / "oracle.json").read_text())
    return data["captures"]["icmp_netns.pcap"]


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(analyze(CAPTURE, config={"idle_threshold_s": 2}))


def _section(page: str, sid: str) -> str:
    start = page.index(f'<section id="{sid}"')
    return page[start : page.index("</section>", start)]


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)))


def test_icmp_section_shows_tshark_counts(page: str, truth: dict[str, Any]) -> None:
    text = _text(_section(page, "icmp"))
    ic = truth["icmp"]
    assert f"{sum(ic['messages'].values())} ICMP / ICMPv6 messages" in text
    assert f"{ic['unreachable']} destination unreachable" in text
    assert f"{ic['time_exceeded']} time exceeded" in text
    assert "next-hop MTU 1280" in text
    assert "Destination unreachable/Fragmentation needed 2" in text
    for address in ic["sources"]:
        assert address in text


def test_waits_section_lists_the_stalled_idle_and_open_connections(page: str, truth: dict[str, Any]) -> None:
    section = _section(page, "waits")
    streams = truth["tcp_streams"]
    stalled = [s for s, v in streams.items() if v["stall_ns"]]
    rows = re.findall(r"<tr><td>(\d+)</td>", section.split('id="waits-stalls"')[1].split("</table>")[0])
    assert rows == stalled
    text = _text(section)
    assert f"{sum(not v['closed'] for v in streams.values())} never closed" in text
    assert "tcp.stream == 1 && (tcp.analysis.zero_window || tcp.analysis.window_update)" in text
    assert 'id="waits-syn"' in section and 'id="waits-black-holes"' in section


def test_no_icmp_says_so() -> None:
    page = render_html(analyze(ICMP_DIR.parent / "dns_hostile_names.pcap"))
    assert "No ICMP or ICMPv6 message in the capture." in _section(page, "icmp")


def test_cli_summary_has_icmp_and_waits_lines(tmp_path: Path, truth: dict[str, Any]) -> None:
    script = Path(sys.executable).with_name("pcap-analyzer")
    proc = subprocess.run(
        [str(script), "analyze", str(CAPTURE), "--json", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = re.sub(r"\s+", " ", proc.stdout)
    ic = truth["icmp"]
    assert f"{sum(ic['messages'].values())} messages, {ic['unreachable']} unreachable" in out
    assert "(MTU 1280)" in out
    assert "1 stalled by zero windows" in out
