"""Captures with almost nothing in them: no score from no packets, no rate from no time."""

from __future__ import annotations

from pathlib import Path

from pcap_analyzer import analyze
from pcap_analyzer.report.html import render_html
from tests.engine.builders import Rec, write_pcap

ARP = bytes.fromhex("ffffffffffff0200000000010806" + "0001080006040001" + "020000000001" + "0a000001")
ARP += bytes(6) + bytes.fromhex("0a000002")


def test_empty_capture_has_nothing_to_judge(tmp_path: Path) -> None:
    r = analyze(write_pcap(tmp_path / "empty.pcap", []))
    assert r.capture.packets == 0
    assert r.health.score is None and r.health.note == "nothing to judge: the capture holds no packet"
    assert r.findings == []
    html = render_html(r)
    assert (
        "No score: nothing to judge: the capture holds no packet." in html
        and '<span class="score-num">' not in html
    )


def test_two_arp_packets_have_no_average_rate(tmp_path: Path) -> None:
    t = 1_700_000_000_000_000_000
    r = analyze(write_pcap(tmp_path / "arp.pcap", [Rec(t, ARP), Rec(t + 24_000, ARP)], nsec=True))
    assert r.capture.packets == 2 and r.throughput.bytes == 2 * len(ARP)
    assert r.throughput.bits_per_s is None  # not 2 x 42 bytes over 24 us = 28 Mbit/s
    assert r.health.score == 100
    html = render_html(r)
    assert "– (too short to average)" in html and "28.000 Mbit/s" not in html
