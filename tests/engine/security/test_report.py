"""The security view in the JSON report (documented keys) and in the HTML report's Security section."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP

from pcap_analyzer import analyze
from pcap_analyzer.report.base import to_data
from pcap_analyzer.report.html import render_html
from tests.engine.security import attacks as a

REPO = Path(__file__).resolve().parents[3]


def test_json_keys_are_the_documented_ones(tmp_path: Path) -> None:
    result = analyze(a.port_scan(tmp_path / "scan.pcap", "XMAS"))
    report = to_data(result)
    assert report["schema_version"] == "1.3"
    finding = report["security"]["findings"][0]
    assert set(finding) == {
        "kind",
        "severity",
        "title",
        "detail",
        "sources",
        "targets",
        "first_ts",
        "last_ts",
        "evidence",
        "facts",
    }
    assert set(finding["evidence"]) == {"count", "unit", "frames", "filter"}
    assert finding["first_ts"] == 1_700_000_000.0 and finding["last_ts"] >= finding["first_ts"]
    doc = (REPO / "docs" / "json-report.md").read_text()
    for key in ("security.findings", "security.findings[].kind", "security.findings[].evidence.filter"):
        assert f"`{key}`" in doc, key
    assert report["config"]["security.scan_min_ports"] == 20


def test_html_security_section(tmp_path: Path) -> None:
    html = render_html(analyze(a.brute_force(tmp_path / "brute.pcap")))
    section = html[
        html.index('<section id="security"') : html.index("</section>", html.index('id="security"'))
    ]
    assert "SSH brute force against 10.0.0.9 from 10.0.0.66" in section
    assert 'data-kind="brute_force"' in section and "30 connections" in section
    assert "ip.src == 10.0.0.66 &amp;&amp; ip.dst == 10.0.0.9 &amp;&amp; tcp.dstport == 22" in section


def test_html_without_findings_says_so(tmp_path: Path) -> None:
    html = render_html(analyze(REPO / "samples" / "demo.pcap"))
    assert '<section id="security"' in html and "No port scan, flood, brute force" in html
    off = render_html(analyze(REPO / "samples" / "demo.pcap", config={"security": {"enabled": False}}))
    assert "security detectors were turned off" in off


def test_hostile_query_names_are_escaped(tmp_path: Path) -> None:
    tr = a.Trace()
    for i in range(60):
        name = f"<script>alert({i})</script>{'x' * 30}{i:04d}.q.evil-example.com"
        tr.add(
            i * 0.5,
            IP(src=a.CLIENT, dst="10.0.0.53")
            / UDP(sport=40000 + i, dport=53)
            / DNS(id=i, qd=DNSQR(qname=name, qtype="NULL")),
        )
    result = analyze(tr.write(tmp_path / "hostile.pcap"))
    assert [f.kind for f in result.security.findings] == ["dns_tunnel"]
    html = render_html(result)
    assert "<script>alert(" not in html and "&lt;script&gt;alert(" in html
