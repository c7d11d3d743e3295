"""Ordinary traffic raises no security finding above "info": the project's sample, the captures other
engine tests generate, ../shared/corpus and every non-attack capture of ../shared/public-corpus (those two
are collected only when present)."""

from __future__ import annotations

import re
from pathlib import Path

from pcap_analyzer import analyze
from tests.conftest import EXTRA_CORPUS_DIR
from tests.engine.analyzers.scenario import write_scenario
from tests.engine.diagnose.scenarios import (
    Capture,
    dns_queries,
    lossy_transfer,
    refused_connections,
    zero_window_receiver,
)

REPO = Path(__file__).resolve().parents[3]
PUBLIC = EXTRA_CORPUS_DIR.parent / "public-corpus"
# Files of the public corpus that hold attacks or attack tools' traffic, by name: malware and C2 samples,
# psexec/mimikatz lateral movement, scanners, unanswered-call storms, DoS, router kills, heartbleed, IDS
# evasion. The rest is ordinary (if sometimes odd or damaged) traffic.
ATTACK_NAMES = re.compile(
    r"malware|trickbot|psexec|mimikatz|scanner|many-unanswered|(^|[_-])dos[_-]|denial|kill_router|heartbleed"
    r"|evasion",
    re.IGNORECASE,
)


def _alarms(path: Path) -> list[str]:
    findings = analyze(path).security.findings
    return [f"{f.severity} {f.kind}: {f.title}" for f in findings if f.severity != "info"]


def _own_captures(tmp_path: Path) -> list[Path]:
    cap = Capture()
    lossy_transfer(cap, "10.99.0.1", "10.99.0.2", 5001, segments=400, lost={50, 180, 320})
    zero_window_receiver(cap, "10.99.0.1", "10.99.0.3", 8080, zero_windows=10)
    refused_connections(cap, "10.99.0.1", "10.99.0.2", 9999, count=20)
    dns_queries(cap, "10.99.0.1", "10.99.0.53", 300, unanswered={3, 50, 99, 150, 200, 250, 299})
    data = REPO / "tests" / "data"
    return [
        REPO / "samples" / "demo.pcap",
        write_scenario(tmp_path / "scenario.pcap"),
        cap.write(tmp_path / "diagnose.pcap"),
        *sorted(data.glob("*.pcap*")),
    ]


def test_project_captures_raise_nothing(tmp_path: Path) -> None:
    alarms = {p.name: _alarms(p) for p in _own_captures(tmp_path)}
    assert {name: found for name, found in alarms.items() if found} == {}


if EXTRA_CORPUS_DIR.is_dir():

    def test_corpus_captures_raise_nothing() -> None:
        paths = sorted(EXTRA_CORPUS_DIR.glob("*.pcap*"))
        assert paths
        alarms = {p.name: _alarms(p) for p in paths}
        assert {name: found for name, found in alarms.items() if found} == {}


if PUBLIC.is_dir():

    def test_public_corpus_without_attack_samples_raises_nothing() -> None:
        paths = sorted(p for p in PUBLIC.iterdir() if ".pcap" in p.name)
        ordinary = [p for p in paths if not ATTACK_NAMES.search(p.name)]
        assert len(paths) - len(ordinary) <= 15, "the attack-name filter left out too much"
        alarms = {p.name: _alarms(p) for p in ordinary}
        false_alarms = {name: found for name, found in alarms.items() if found}
        assert false_alarms == {}, f"{len(false_alarms)} of {len(ordinary)} captures raised an alarm"
