"""The JSON report: AnalysisResult serialised, and its JSON Schema (`python -m pcap_analyzer.report.json`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from pcap_analyzer.report.base import to_json
from pcap_analyzer.report.model import AnalysisResult

SCHEMA_PATH = Path(__file__).with_name("analysis-result.schema.json")


def write_json(result: AnalysisResult, path: str | Path) -> Path:
    """Write the JSON report atomically (temporary file + rename); returns the path."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_bytes(to_json(result, indent=1))
    os.replace(tmp, p)
    return p


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the report, generated from the models."""
    generated: dict[str, Any] = msgspec.json.schema(AnalysisResult)
    definitions = generated["$defs"]
    # The report itself at the top, as readers of a JSON Schema expect, its parts under $defs.
    schema = {"title": "AnalysisResult", **definitions.pop("AnalysisResult"), "$defs": definitions}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def schema_text() -> str:
    """The schema as committed in analysis-result.schema.json."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Regenerate the committed schema file (or check it with --check)."""
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        ok = SCHEMA_PATH.is_file() and SCHEMA_PATH.read_text(encoding="utf-8") == schema_text()
        sys.stdout.write("schema up to date\n" if ok else f"{SCHEMA_PATH} is stale\n")
        return 0 if ok else 1
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    sys.stdout.write(f"wrote {SCHEMA_PATH}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
