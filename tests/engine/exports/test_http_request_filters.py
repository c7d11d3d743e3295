"""Each listed HTTP request carries a Wireshark filter that selects, in tshark, its request and its response
(tests/data/http/http_mixed.pcap; tshark reports a response in the frame that ends its body)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pcap_analyzer import analyze
from tests.engine.exports.tshark import TSHARK, needs_tshark

CAPTURE = Path(__file__).resolve().parents[2] / "data" / "http" / "http_mixed.pcap"


def _frames(display_filter: str) -> set[int]:
    cmd = [TSHARK or "tshark", "-n", "-2", "-r", str(CAPTURE), "-Y", display_filter, "-T", "fields"]
    done = subprocess.run([*cmd, "-e", "frame.number"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"tshark rejected {display_filter!r}: {done.stderr.strip()}"
    return {int(x) for x in done.stdout.split()}


@needs_tshark
def test_request_rows_filter_their_request_and_response() -> None:
    slowest = analyze(CAPTURE).http.slowest
    assert slowest
    for q in slowest:
        assert q.filter, q
        selected = _frames(q.filter)
        assert q.request_frame in selected, q.filter
        if q.response_frame is not None:
            assert q.response_frame in selected, q.filter
