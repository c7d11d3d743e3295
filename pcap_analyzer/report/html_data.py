"""The HTML report's data island: AnalysisResult as compact JSON that is safe inside a <script> element.

The island holds ``report.base.to_data(result)`` with one lossless change: ``connections`` (up to
tens of thousands of rows) is stored as rows of values under a single column list instead of one
object per row (about a third of the size). Above GZIP_ABOVE bytes, the rows are stored column by
column and the whole result is gzip-compressed and base64-encoded (``result_gzip``), which the
browser inflates with DecompressionStream: 50,000 connections then take under 5 MB instead of 35 MB.
``expand_payload`` (and ``expand`` in static/report.js) turn it back into exactly the JSON report.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

from pcap_analyzer.report.base import field_names, to_data
from pcap_analyzer.report.model import AnalysisResult, FlaggedPacket, Stats, TcpConnection

PAYLOAD_FORMAT = "pcap-analyzer-html/1"
GZIP_ABOVE = 1_000_000  # bytes of island JSON above which it is compressed
STATS_KEYS: list[str] = list(field_names(Stats))
FLAGGED_KEYS: list[str] = list(field_names(FlaggedPacket))
CONNECTION_KEYS: list[str] = list(field_names(TcpConnection))

# Characters that could end the <script> element or start an HTML comment, and the two line
# separators that older JavaScript engines refuse in string literals. JSON allows \uXXXX for each.
_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _connection_row(conn: dict[str, Any]) -> list[Any]:
    row: list[Any] = []
    for key in CONNECTION_KEYS:
        value = conn[key]
        if key == "rtt_ms":
            value = [value[k] for k in STATS_KEYS]
        elif key == "flagged":
            value = [[p[k] for k in FLAGGED_KEYS] for p in value]
        row.append(value)
    return row


def _connection_object(row: list[Any]) -> dict[str, Any]:
    conn = dict(zip(CONNECTION_KEYS, row, strict=True))
    conn["rtt_ms"] = dict(zip(STATS_KEYS, conn["rtt_ms"], strict=True))
    conn["flagged"] = [dict(zip(FLAGGED_KEYS, p, strict=True)) for p in conn["flagged"]]
    return conn


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def island_payload(result: AnalysisResult, *, gzip_above: int = GZIP_ABOVE) -> dict[str, Any]:
    """The compact payload embedded in the page (see the module docstring)."""
    data: dict[str, Any] = to_data(result)  # non-finite floats are already null, as in the JSON report
    rows = [_connection_row(c) for c in data["connections"]]
    table: dict[str, Any] = {
        "columns": CONNECTION_KEYS,
        "stats_keys": STATS_KEYS,
        "flagged_keys": FLAGGED_KEYS,
    }
    data["connections"] = table
    table["rows"] = rows
    if len(_compact_json(data)) <= gzip_above:
        return {"format": PAYLOAD_FORMAT, "result": data}
    # Column-major first: similar values sit together, so gzip shrinks them ~25% more.
    del table["rows"]
    table["count"] = len(rows)
    table["column_values"] = [list(col) for col in zip(*rows, strict=True)] if rows else []
    packed = gzip.compress(_compact_json(data).encode("ascii"), 9, mtime=0)
    return {"format": PAYLOAD_FORMAT, "result_gzip": base64.b64encode(packed).decode("ascii")}


def _table_rows(table: dict[str, Any]) -> list[list[Any]]:
    if "rows" in table:
        return list(table["rows"])
    rows = [list(r) for r in zip(*table["column_values"], strict=True)]
    if len(rows) != table["count"]:
        raise ValueError("report data is damaged: connection count does not match")
    return rows


def expand_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Inverse of island_payload: the JSON report as report.base.to_data(result) gives it."""
    if payload.get("format") != PAYLOAD_FORMAT:
        raise ValueError(f"unknown report data format {payload.get('format')!r}, expected {PAYLOAD_FORMAT!r}")
    data: dict[str, Any]
    if "result_gzip" in payload:
        data = json.loads(gzip.decompress(base64.b64decode(payload["result_gzip"])))
    else:
        data = dict(payload["result"])
    table = data["connections"]
    if table["columns"] != CONNECTION_KEYS or table["stats_keys"] != STATS_KEYS:
        raise ValueError("report data columns do not match this version's TcpConnection model")
    data["connections"] = [_connection_object(r) for r in _table_rows(table)]
    return data


def script_json(value: Any) -> str:
    """JSON text that can sit between <script type="application/json"> tags without ending them.

    ASCII-only output (so lone surrogates from odd DNS names survive), and ``<``, ``>``, ``&``,
    U+2028 and U+2029 escaped: ``</script>`` or ``<!--`` inside a string cannot break out.
    """
    text = _compact_json(value)
    for char, escaped in _SCRIPT_UNSAFE.items():
        text = text.replace(char, escaped)
    return text
