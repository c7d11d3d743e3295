"""The engine in a child process: `python -m app.worker.runner CAPTURE JSON_OUT HTML_OUT [DISPLAY_NAME]`.

It runs `pcap_analyzer.analyze`, writes both reports and talks to its parent through JSON lines on stdout:
    {"event": "progress", "phase": ..., "bytes_done": ..., "bytes_total": ..., "packets": ...}
    {"event": "result", "total_packets": ..., "health_score": ..., "warning": ... | null}
    {"event": "error", "message": ...}   (the capture cannot be analysed; exit status 2)
Anything else (a crash, a kill, running out of memory) shows up as the exit status and stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

# The placeholder the stored HTML report carries where the CSP nonce goes; each response substitutes a
# fresh nonce (app.api.routes.reports), so a report file never holds a nonce that is valid twice.
NONCE_PLACEHOLDER = "__PCAP_ANALYZER_CSP_NONCE__"
REPORT_ASSET_URL = "/static/report"
_MIN_INTERVAL_S = 0.5


def _emit(event: str, **fields: object) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


class _ProgressRelay:
    """Forward engine progress to the parent, at most every 0.5 s plus every phase change."""

    def __init__(self) -> None:
        self._last_phase: str | None = None
        self._last_sent = 0.0

    def __call__(self, bytes_done: int, bytes_total: int, packets_done: int, phase: object) -> None:
        phase_name = str(getattr(phase, "value", phase))
        now = time.monotonic()
        if phase_name == self._last_phase and now - self._last_sent < _MIN_INTERVAL_S:
            return
        self._last_phase, self._last_sent = phase_name, now
        _emit(
            "progress", phase=phase_name, bytes_done=bytes_done, bytes_total=bytes_total, packets=packets_done
        )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def run(capture: Path, json_out: Path, html_out: Path, display_name: str | None = None) -> int:
    """Analyse `capture` and write both reports (naming the capture `display_name`, the name it was
    uploaded under, rather than its stored file name); the process exit status."""
    from pcap_analyzer import analyze
    from pcap_analyzer.errors import CaptureFormatError

    try:
        result = analyze(capture, on_progress=_ProgressRelay())
    except CaptureFormatError as exc:
        _emit("error", message=str(exc))
        return 2
    if display_name:
        result.capture.file_name = display_name
    from pcap_analyzer.report.base import to_json
    from pcap_analyzer.report.html import render_html

    _write_atomic(json_out, to_json(result))
    html = render_html(
        result, self_contained=False, script_nonce=NONCE_PLACEHOLDER, asset_url=REPORT_ASSET_URL
    )
    _write_atomic(html_out, html.encode("utf-8"))
    info = result.capture
    notes = [f"at byte {w.offset} (packet #{w.packet_index + 1}): {w.reason}" for w in info.warnings]
    warning = "; ".join(notes) or ("the capture is truncated" if info.truncated else None)
    _emit("result", total_packets=result.capture.packets, health_score=result.health.score, warning=warning)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (3, 4):
        sys.stderr.write("usage: python -m app.worker.runner CAPTURE JSON_OUT HTML_OUT [DISPLAY_NAME]\n")
        return 64
    return run(Path(args[0]), Path(args[1]), Path(args[2]), args[3] if len(args) == 4 else None)


if __name__ == "__main__":
    sys.exit(main())
