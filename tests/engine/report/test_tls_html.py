"""The TLS section of the HTML report, on the TLS test capture (values from tests/data/tls/oracle.json)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from pcap_analyzer import analyze
from pcap_analyzer.report.html import render_html

DATA = Path(__file__).resolve().parents[2] / "data" / "tls"


class _Tables(HTMLParser):
    """Text of each table cell inside <section id="tls">, by table caption."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # section nesting while inside the TLS section
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: str | None = None
        self._text: list[str] | None = None
        self._row: list[str] | None = None
        self._in_caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section" and (self.depth or ("id", "tls") in attrs):
            self.depth += 1
        if not self.depth:
            return
        if tag == "caption":
            self._in_caption, self._caption = True, ""
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section" and self.depth:
            self.depth -= 1
        elif tag == "caption":
            self._in_caption = False
        elif tag in ("td", "th") and self._text is not None and self._row is not None:
            self._row.append("".join(self._text).strip())
            self._text = None
        elif tag == "tr" and self._row is not None and self._caption is not None:
            self.tables.setdefault(self._caption, []).append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._in_caption and self._caption is not None:
            self._caption += data
        elif self._text is not None:
            self._text.append(data)


def test_tls_section_shows_servers_names_and_alerts() -> None:
    facts = json.loads((DATA / "oracle.json").read_text())["captures"]["tls_handshakes.pcap"]
    parser = _Tables()
    parser.feed(render_html(analyze(DATA / "tls_handshakes.pcap")))
    t = parser.tables
    names = {row[0]: int(row[1]) for row in t["Server names asked for (SNI), per ClientHello"][1:]}
    assert names == facts["server_names"]
    rows = t["Alerts (cleartext only: encrypted alerts cannot be read)"][1:]
    alerts = {row[0]: int(row[1]) for row in rows}
    assert alerts == {"unknown_ca": 8, "protocol_version": 5, "handshake_failure": 5}
    servers = {row[0]: row for row in t["Servers (SNI, else address:port), most handshakes first"][1:]}
    assert int(servers["c.test"][1]) == 8 and servers["c.test"][-1] == "unknown_ca: 8"
    assert "127.0.0.1:443" in servers
    assert len(t["Failed handshakes"]) == 1 + 18


def test_no_tls_says_so() -> None:
    html = render_html(analyze(DATA.parent / "dns_hostile_names.pcap"))
    assert "No TLS handshake in this capture." in html
