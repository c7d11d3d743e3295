"""The engine's child process: progress lines, both reports, a clear error for a non-capture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.worker.runner import NONCE_PLACEHOLDER


def _run(capture: Path, out: Path) -> tuple[int, list[dict[str, Any]], str]:
    done = subprocess.run(
        [sys.executable, "-m", "app.worker.runner", str(capture), str(out / "r.json"), str(out / "r.html")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def test_runner_writes_both_reports(corpus_dir: Path, oracle: dict[str, Any], tmp_path: Path) -> None:
    code, events, stderr = _run(corpus_dir / "netns_mixed.pcapng", tmp_path)
    assert code == 0, stderr
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and events[-1]["event"] == "result"
    phases = [e["phase"] for e in progress]
    assert phases[0] == "reading" and "analyzing" in phases
    assert [e["packets"] for e in progress] == sorted(e["packets"] for e in progress)
    frames = oracle["netns_mixed.pcapng"]["file"]["frames"]
    assert events[-1]["total_packets"] == frames and events[-1]["warning"] is None
    assert 0 <= events[-1]["health_score"] <= 100
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["capture"]["packets"] == frames
    html = (tmp_path / "r.html").read_text()
    assert f'nonce="{NONCE_PLACEHOLDER}"' in html and "/static/report/" in html
    assert not list(tmp_path.glob("*.tmp"))


def test_runner_reports_a_cut_capture_as_a_warning(
    corpus_dir: Path, oracle: dict[str, Any], tmp_path: Path
) -> None:
    code, events, stderr = _run(corpus_dir / "netns_mixed_truncated.pcap", tmp_path)
    assert code == 0, stderr
    assert events[-1]["total_packets"] == oracle["netns_mixed_truncated.pcap"]["file"]["frames"]
    assert events[-1]["warning"]


def test_runner_refuses_a_non_capture(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pcap"
    bogus.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\xff" * 3)  # a pcap magic, then no valid header
    code, events, _ = _run(bogus, tmp_path)
    assert code == 2
    assert events[-1]["event"] == "error" and events[-1]["message"]
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "r.html").exists()
