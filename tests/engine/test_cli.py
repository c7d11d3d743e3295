"""The real `pcap-analyzer analyze` console script, run as a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("pcap-analyzer")


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module", autouse=True)
def _script() -> None:
    if not SCRIPT.exists():
        pytest.fail(f"console script {SCRIPT} is not installed (pip install -e .)")


def test_reports_go_to_reports_dir_with_timestamped_names(corpus_dir: Path, tmp_path: Path) -> None:
    proc = _run("analyze", corpus_dir / "dns_hostile_names.pcap", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert [n.rsplit(".", 1)[1] for n in names] == ["html", "json"]
    assert all(re.fullmatch(r"dns_hostile_names-\d{8}-\d{6}\.(json|html)", n) for n in names), names
    report = json.loads((tmp_path / "reports" / names[1]).read_text())
    assert report["capture"]["packets"] == 6 and report["schema_version"]
    assert "health" in proc.stdout.lower()  # the summary table


def test_explicit_json_path_and_quiet(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.json"
    proc = _run("analyze", corpus_dir / "dns_hostile_names.pcap", "--json", out, "--quiet", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    assert json.loads(out.read_text())["dns"]["queries"] == 3
    assert not (tmp_path / "reports").exists()


def test_truncated_capture_exits_0_with_a_warning(corpus_dir: Path, tmp_path: Path) -> None:
    proc = _run(
        "analyze",
        corpus_dir / "netns_mixed_truncated.pcap",
        "--json",
        tmp_path / "t.json",
        "-q",
        cwd=tmp_path,
    )
    assert proc.returncode == 0
    assert proc.stderr.startswith("warning:") and "truncated" in proc.stderr
    assert json.loads((tmp_path / "t.json").read_text())["capture"]["truncated"] is True


@pytest.mark.parametrize("kind", ["text", "missing", "empty"])
def test_not_a_capture_exits_2_with_one_line(tmp_path: Path, kind: str) -> None:
    f = tmp_path / "notes.txt"
    if kind == "text":
        f.write_text("hello, this is not a capture\n" * 20)
    elif kind == "empty":
        f.write_bytes(b"")
    proc = _run("analyze", f, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "reports").exists()


def test_bad_config_key_exits_2_naming_it(corpus_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("gap_threshold_s: 2\nburst_factr: 3\n")
    proc = _run("analyze", corpus_dir / "dns_hostile_names.pcap", "--config", cfg, cwd=tmp_path)
    assert proc.returncode == 2 and "unknown key 'burst_factr'" in proc.stderr


def test_python_dash_m_runs_the_same_cli(corpus_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pcap_analyzer",
            "analyze",
            str(corpus_dir / "dns_hostile_names.pcap"),
            "--json",
            str(out),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["capture"]["packets"] == 6


def test_python_dash_m_keeps_exit_code_and_messages(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pcap_analyzer", "analyze", str(tmp_path / "missing.pcap"), "-q"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 2 and "no such capture file" in proc.stderr
