"""The TLS line of `pcap-analyzer analyze`'s summary, on the TLS test capture."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CAPTURE = Path(__file__).resolve().parents[1] / "data" / "tls" / "tls_handshakes.pcap"


def test_summary_has_a_tls_line(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("pcap-analyzer")
    proc = subprocess.run(
        [str(script), "analyze", str(CAPTURE), "--json", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=240,
        env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if " TLS " in x)
    # counts from tests/data/tls/oracle.json (65 ClientHellos) and make_captures.py (18 aborted by alerts)
    assert "65 ClientHellos" in line and "18 failed" in line
    assert "8 unknown_ca" in line
