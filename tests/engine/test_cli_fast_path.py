"""A plain `pcap-analyzer analyze` runs without Typer (pcap_analyzer.cli_analyze), and every spelling of its
options gives the report the Typer command line gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pcap_analyzer.cli_analyze import parse_analyze

SCRIPT = Path(sys.executable).with_name("pcap-analyzer")
DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo.pcap"


def _report(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text())
    for key in ("generator", "elapsed_s", "analyzed_at"):  # when and how long: differ between runs
        data.pop(key, None)
    return data


def test_plain_analyze_does_not_import_typer(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "pcap_analyzer",
            "analyze",
            str(DEMO),
            "--json",
            str(out),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "pcap_analyzer.api" in imported and out.is_file()
    assert not {m for m in imported if m.split(".")[0] in ("typer", "click", "rich")}, "Typer path was taken"


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "{out}", "-q", "{demo}"],  # options before FILE
        ["{demo}", "--json={out}", "--quiet", "--output-dir", "ignored"],
        ["{demo}", "--json", "{out}", "--quiet", "--"],  # `--`: goes to Typer
    ],
)
def test_spellings_give_the_typer_report(tmp_path: Path, args: list[str]) -> None:
    reference = tmp_path / "typer.json"
    # `--` at the end is not a plain form: Typer parses this one.
    cmd = [str(SCRIPT), "analyze", str(DEMO), "--json", str(reference), "--quiet", "--"]
    assert subprocess.run(cmd, capture_output=True, timeout=240).returncode == 0
    out = tmp_path / "r.json"
    filled = [a.format(out=out, demo=DEMO) for a in args]
    done = subprocess.run([str(SCRIPT), "analyze", *filled], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert _report(out) == _report(reference)


def test_parse_analyze_leaves_anything_unusual_to_typer() -> None:
    plain = parse_analyze(["analyze", "f.pcap", "--json", "a.json", "--html=b.html", "-q"])
    assert plain == {
        "file": Path("f.pcap"),
        "json_out": Path("a.json"),
        "html_out": Path("b.html"),
        "quiet": True,
    }
    for argv in (
        ["analyze"],
        ["analyze", "--help"],
        ["analyze", "f.pcap", "--json"],
        ["analyze", "f.pcap", "--json", "a", "--json", "b"],
        ["analyze", "f.pcap", "g.pcap"],
        ["analyze", "f.pcap", "--no-such-option"],
        ["analyze", "f.pcap", "--json", "-q"],
        ["analyze", "f.pcap", "-qq"],
        ["analyze", "f.pcap", "--"],
        ["serve"],
    ):
        assert parse_analyze(argv) is None, argv
