"""Bad configuration, bad arguments and Ctrl-C given to the real `pcap-analyzer` console script: one clear
line on stderr, the documented exit code, never a traceback, never a half-written report."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(sys.executable).with_name("pcap-analyzer")
REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "samples" / "demo.pcap"


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=240
    )


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        # each of these crashed an analysis (ZeroDivisionError, MemoryError, ValueError) before
        ("timeline_bucket_s: 1e-12\n", "timeline_bucket_s: expected a number >= 0.001"),
        ("detail_points: 1000000000\n", "detail_points: expected an integer <= 20000"),
        ("chunk_bytes: 100000000000000\n", "chunk_bytes: expected an integer <= 1073741824"),
        ("max_talkers: " + "7" * 5000 + "\n", "cannot be read: a number with too many digits"),
        ("high_rtt_ms: .inf\n", "high_rtt_ms: expected a finite number"),
        ("dns_slow_ms: .nan\n", "dns_slow_ms: expected a finite number"),
        ("gap_threshold_s: 0\n", "gap_threshold_s: expected a number >= 0.001"),
        ("retrans_critical_pct: 101\n", "retrans_critical_pct: expected a number <= 100"),
        (
            "retrans_warning_pct: 8\nretrans_critical_pct: 3\n",
            "retrans_warning_pct (8) is above retrans_critical_pct (3)",
        ),
        (
            "gap_threshold_s: 2\n  burst_factor: [\n",
            "is not valid YAML at line 2, column 15: mapping values are not",
        ),
        ("max_gaps: [1, 2\nmax_findings: 3\n", "is not valid YAML at line 2, column 13"),
    ],
)
def test_bad_config_is_one_line(tmp_path: Path, yaml_text: str, expected: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    line = _one_error_line(_run("analyze", DEMO, "--config", cfg, cwd=tmp_path))
    assert expected in line and str(cfg) in line, line
    assert not (tmp_path / "reports").exists()


def test_bounds_leave_the_defaults_and_extremes_usable(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("timeline_bucket_s: 0.001\ndetail_points: 20000\nchunk_bytes: 65536\nmax_connections: 1\n")
    out = tmp_path / "r.json"
    proc = _run("analyze", DEMO, "--config", cfg, "--json", out, "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["config"]["chunk_bytes"] == 65536 and len(report["connections"]) == 1


def test_a_directory_is_named_as_such(tmp_path: Path) -> None:
    line = _one_error_line(_run("analyze", tmp_path, cwd=tmp_path))
    assert line == f"error: {tmp_path} is a directory, not a capture file"


def test_unwritable_report_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = _one_error_line(_run("analyze", DEMO, "--json", blocker / "out" / "r.json", "-q", cwd=tmp_path))
    assert line == f"error: cannot write {blocker / 'out'}: Not a directory"


def test_version_and_plain_help(tmp_path: Path) -> None:
    from importlib.metadata import version

    proc = _run("--version", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, f"pcap-analyzer {version('pcap-analyzer')}\n")
    for args in (["--help"], ["analyze", "--help"], ["users", "create-admin", "--help"], ["db", "--help"]):
        helped = _run(*args, cwd=tmp_path)
        assert helped.returncode == 0, helped.stderr
        assert "<bool>" not in helped.stdout and "{" not in helped.stdout, helped.stdout
    usage = _run("analyze", "--help", cwd=tmp_path).stdout
    assert re.search(r"Usage: pcap-analyzer analyze \[OPTIONS\] FILE\s*$", usage, re.M), usage
    assert re.search(r"--quiet\s+-q\s+No progress bar", usage), usage


def test_usage_errors_use_the_same_exit_code(tmp_path: Path) -> None:
    proc = _run("analyze", cwd=tmp_path)
    assert proc.returncode == 2 and "Missing argument 'FILE'" in proc.stderr
    assert _run("analyze", DEMO, "--no-such-option", cwd=tmp_path).returncode == 2


def _long_capture(path: Path, packets: int) -> Path:
    """A classic pcap of `packets` small UDP datagrams over many flows (long enough to interrupt)."""
    eth = bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + b"\x08\x00"
    ip = bytes([0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2])
    frame = eth + ip + struct.pack("!HHHH", 5000, 6000, 26, 0) + bytes(18)
    record = struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame
    rows = np.tile(np.frombuffer(record, np.uint8), (packets, 1))
    i = np.arange(packets)
    rows[:, 0:4] = (i // 1000).astype("<u4").view(np.uint8).reshape(packets, 4)
    rows[:, 4:8] = ((i % 1000) * 1000).astype("<u4").view(np.uint8).reshape(packets, 4)
    rows[:, 50:52] = (1024 + i % 50_000).astype(">u2").view(np.uint8).reshape(packets, 2)
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + rows.tobytes())
    return path


def test_ctrl_c_during_analysis_says_what_was_not_written(tmp_path: Path) -> None:
    """SIGINT once the progress bar shows (stderr is a terminal): no report, no temporary file, and the
    message names both reports."""
    capture = _long_capture(tmp_path / "long.pcap", 400_000)
    json_out, html_out = tmp_path / "out" / "r.json", tmp_path / "out" / "r.html"
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [str(SCRIPT), "analyze", str(capture), "--json", str(json_out), "--html", str(html_out)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
        # Ctrl-C as in a terminal: a harness running the tests in the background ignores SIGINT, and
        # children inherit that (Python then installs no KeyboardInterrupt handler).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 180
    try:
        while b"packets" not in seen:  # the progress bar's packet counter
            assert proc.poll() is None, seen.decode(errors="replace")
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 65536)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child exited and closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = seen.decode(errors="replace")
    assert f"interrupted: not written: {json_out}, {html_out}" in text, text
    assert "Traceback" not in text
    assert not json_out.exists() and not html_out.exists()
    assert not list(tmp_path.glob("out/*.tmp"))
