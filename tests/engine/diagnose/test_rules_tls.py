"""TLS findings on tests/data/tls/tls_handshakes.pcap, whose failures and delays are known by construction."""

from __future__ import annotations

import json
from pathlib import Path

from pcap_analyzer import analyze
from pcap_analyzer.report.model import Finding

DATA = Path(__file__).resolve().parents[2] / "data" / "tls"
CAPTURE = DATA / "tls_handshakes.pcap"


def _tls(findings: list[Finding], rule: str) -> dict[str, Finding]:
    return {f.title.split(" to ")[1].split()[0]: f for f in findings if f.id == rule}


def test_aborting_alerts_name_server_alert_and_count() -> None:
    found = _tls(analyze(CAPTURE).findings, "tls.alert")
    assert set(found) == {"c.test", "d.test", "e.test"}
    title = "8 of 8 TLS handshakes to c.test failed with alert unknown_ca (sent by the client)"
    assert found["c.test"].title == title
    assert found["d.test"].title == (
        "5 of 5 TLS handshakes to d.test failed with alert protocol_version (sent by the server)"
    )
    assert "handshake_failure" in found["e.test"].title
    assert all(f.severity == "critical" for f in found.values())
    assert len(found["c.test"].evidence.streams) == 8


def test_too_few_failures_stay_at_info() -> None:
    found = _tls(analyze(CAPTURE, config={"min_evidence_events": 6}).findings, "tls.alert")
    assert found["c.test"].severity == "critical"  # 8 failures
    assert found["d.test"].severity == "info" and "min_evidence_events" in found["d.test"].detail


def test_slow_server_hellos_by_threshold() -> None:
    streams = json.loads((DATA / "oracle.json").read_text())["captures"][CAPTURE.name]["streams"]
    assert not _tls(analyze(CAPTURE).findings, "tls.slow_handshake")  # all well under 300 ms
    found = _tls(analyze(CAPTURE, config={"tls_slow_handshake_ms": 20}).findings, "tls.slow_handshake")
    slow = [s for s in streams.values() if s["hello_ms"] and s["hello_ms"] > 20]
    assert {s["sni"] for s in slow} == {"slow.test"} == set(found)
    assert found["slow.test"].title.startswith(f"{len(slow)} of 16 TLS handshakes to slow.test")
    assert len(found["slow.test"].evidence.frames) == len(slow)
