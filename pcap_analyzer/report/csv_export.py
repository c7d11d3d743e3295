"""CSV exports of the report's tables (`analyze --csv DIR` and the HTML report's download buttons).

TABLES declares each file: where its rows are in the JSON report and, per column, the header and the key
path in a row. The command line writes them with the stdlib csv module; report.js builds the same files
in the browser from the same declaration (embedded in the page) and the page's data, byte for byte.
Cells: numbers as JavaScript writes them, lists joined by "; ", mappings as `key:value; ...`, None empty.
Text starting with = + - @ (a formula to a spreadsheet) is prefixed with a quote (OWASP CSV injection).
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from pcap_analyzer.report.base import to_data
from pcap_analyzer.report.model import AnalysisResult

# (file name, [(list name for the `list` column, path of the rows)], [(header, key path in a row)])
# A key path is dot-separated; "a|b" takes the first of a, b present; "@list" and "@rank" are the row's
# source list name and its 1-based position.
Table = tuple[str, list[tuple[str, str]], list[tuple[str, str]]]
_QUERY = [
    ("frame", "frame"),
    ("ts", "ts"),
    ("client", "client"),
    ("server", "server"),
    ("name", "name"),
    ("qtype", "qtype"),
    ("rcode", "rcode"),
    ("response_time_ms", "response_time_ms"),
    ("filter", "filter"),
]
TABLES: list[Table] = [
    (
        "connections.csv",
        [("", "connections")],
        [
            ("stream", "stream"),
            ("client", "client"),
            ("client_port", "client_port"),
            ("server", "server"),
            ("server_port", "server_port"),
            ("state", "state"),
            ("first_frame", "first_frame"),
            ("first_ts", "first_ts"),
            ("duration_s", "duration_s"),
            ("packets_ab", "packets_ab"),
            ("packets_ba", "packets_ba"),
            ("bytes_ab", "bytes_ab"),
            ("bytes_ba", "bytes_ba"),
            ("payload_ab", "payload_ab"),
            ("payload_ba", "payload_ba"),
            ("throughput_bps", "throughput_bps"),
            ("handshake_ms", "handshake_ms"),
            ("rtt_median_ms", "rtt_ms.median"),
            ("rtt_p95_ms", "rtt_ms.p95"),
            ("retransmissions", "retransmissions"),
            ("retransmission_pct", "retransmission_pct"),
            ("fast_retransmissions", "fast_retransmissions"),
            ("duplicate_acks", "duplicate_acks"),
            ("lost_segments", "lost_segments"),
            ("out_of_order", "out_of_order"),
            ("zero_windows", "zero_windows"),
            ("window_full", "window_full"),
            ("resets", "resets"),
            ("rto_time_ms", "rto_time_ms"),
            ("score", "score"),
            ("filter", "filter"),
        ],
    ),
    (
        "requests.csv",
        [("", "http.slowest")],
        [
            ("method", "method"),
            ("host", "host"),
            ("path", "path"),
            ("status", "status"),
            ("response_time_ms", "response_time_ms"),
            ("transfer_ms", "transfer_ms"),
            ("response_bytes", "response_bytes"),
            ("stream", "stream"),
            ("request_frame", "request_frame"),
            ("response_frame", "response_frame"),
            ("filter", "filter"),
        ],
    ),
    (
        "latency_connections.csv",
        [("", "latency_connections")],
        [
            ("stream", "stream"),
            ("client", "client"),
            ("client_port", "client_port"),
            ("server", "server"),
            ("server_port", "server_port"),
            ("names", "names"),
            ("kinds", "kinds"),
            ("exchanges", "exchanges"),
            ("time_ms", "time_ms"),
            ("total_median_ms", "total_ms"),
            ("network_sum_ms", "network_sum_ms"),
            ("server_sum_ms", "server_sum_ms"),
            ("transfer_sum_ms", "transfer_sum_ms"),
            ("network_median_ms", "network_median_ms"),
            ("server_median_ms", "server_median_ms"),
            ("transfer_median_ms", "transfer_median_ms"),
            ("retransmission_wait_ms", "retransmission_wait_ms"),
            ("zero_window_ms", "zero_window_ms"),
            ("dominant", "dominant"),
            ("dominant_pct", "dominant_pct"),
            ("slowest_frame", "slowest_frame"),
            ("slowest_ms", "slowest_ms"),
            ("filter", "filter"),
        ],
    ),
    (
        "dns.csv",
        [
            ("unanswered", "dns.unanswered_queries"),
            ("error", "dns.error_responses"),
            ("slow", "dns.slowest_queries"),
        ],
        [("list", "@list"), *_QUERY],
    ),
    (
        "dns_domains.csv",
        [("", "dns.domains")],
        [
            ("domain", "domain"),
            ("queries", "queries"),
            ("names", "names"),
            ("answered", "answered"),
            ("failures", "failures"),
            ("slow_answers", "slow_answers"),
            ("unanswered", "unanswered"),
            ("pending_at_end", "pending_at_end"),
            ("max_response_ms", "max_response_ms"),
            ("filter", "filter"),
        ],
    ),
    (
        "findings.csv",
        [("", "findings")],
        [
            ("rank", "@rank"),
            ("id", "id"),
            ("severity", "severity"),
            ("title", "title"),
            ("impact", "impact"),
            ("streams", "evidence.streams"),
            ("frames", "evidence.frames"),
            ("flows", "evidence.flows"),
            ("filter", "filter"),
            ("detail", "detail"),
        ],
    ),
    (
        "talkers.csv",
        [("", "top_talkers")],
        [
            ("address", "address"),
            ("bytes_sent", "bytes"),
            ("packets_sent", "packets"),
            ("bytes_received", "bytes_received"),
            ("packets_received", "packets_received"),
            ("filter", "filter"),
        ],
    ),
    (
        "services.csv",
        [("", "services")],
        [
            ("protocol", "protocol"),
            ("port", "port"),
            ("service", "service"),
            ("connections", "connections"),
            ("packets", "packets"),
            ("bytes", "bytes"),
            ("bytes_to_server", "bytes_to_server"),
            ("bytes_to_client", "bytes_to_client"),
            ("filter", "filter"),
        ],
    ),
]
_MISSING = object()


def _get(obj: Any, path: str) -> Any:
    for alt in path.split("|"):
        value = obj
        for key in alt.split("."):
            value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
            if value is _MISSING:
                break
        if value is not _MISSING and value is not None:
            return value
    return None


def _number(x: float) -> str:
    """A float as JavaScript's String(x) writes it (the page builds the same files)."""
    if not math.isfinite(x):
        return ""
    if x.is_integer() and abs(x) < 1e21:
        return str(int(x))
    text = repr(x)
    if "e" in text and 1e-7 <= abs(x) < 1e21:  # JS keeps positional notation in this range
        import numpy as np

        text = np.format_float_positional(x)
    return text


def cell(value: Any) -> str:
    """The text of one CSV cell (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, list):
        return "; ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}:{cell(v)}" for k, v in value.items())
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def table_rows(data: dict[str, Any], table: Table) -> list[list[str]] | None:
    """Header and rows of one table from the JSON report `data`; None when the report has no such list."""
    _, sources, columns = table
    out = [[h for h, _ in columns]]
    found = False
    for list_name, path in sources:
        rows = _get(data, path)
        if not isinstance(rows, list):
            continue
        found = True
        for i, row in enumerate(rows, 1):
            special = {"@list": list_name, "@rank": i}
            out.append([cell(special[p] if p in special else _get(row, p)) for _, p in columns])
    return out if found else None


def csv_text(rows: list[list[str]]) -> str:
    """RFC 4180 text (CRLF line ends, minimal quoting), as Python's csv module writes it."""
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def write_csv(result: AnalysisResult, folder: str | Path) -> list[Path]:
    """Write the tables of TABLES that the result has into `folder` (made if needed); returns the paths.

    Each file is written to a temporary name and renamed into place, so a file is whole or absent.

    Example:
        >>> write_csv(analyze("capture.pcap"), "out")  # out/connections.csv, out/dns.csv, ...
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = to_data(result)
    written = []
    for table in TABLES:
        rows = table_rows(data, table)
        if rows is None:
            continue
        path = folder / table[0]
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(csv_text(rows), encoding="utf-8", newline="")
        os.replace(tmp, path)
        written.append(path)
    return written


def tables_spec() -> list[dict[str, Any]]:
    """TABLES as JSON-ready objects, for the page's download buttons (report.js)."""
    return [{"file": f, "sources": s, "columns": c} for f, s, c in TABLES]
