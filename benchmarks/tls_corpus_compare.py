"""Compare the TLS analyzer with tshark on a folder of captures (default ../shared/public-corpus).

Usage: python benchmarks/tls_corpus_compare.py [--corpus DIR] [--match SUBSTRING] [--json OUT]

tshark's facts come from tests/data/tls/make_oracle.py (same fields and definitions as the test oracle).
A file agrees when ClientHello and ServerHello counts, SNI counts, alert counts and negotiated versions are
equal, and every connection's ClientHello -> ServerHello and -> done times are within 1 % or 0.05 ms.
Prints each file that has TLS on either side, what differs, and the totals.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from pcap_analyzer.analyzers.tls_wire import alert_name
from pcap_analyzer.api import _Pipeline
from pcap_analyzer.capture.open import open_capture
from pcap_analyzer.config import AnalysisConfig
from pcap_analyzer.errors import CaptureFormatError

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("handshakes", "server_hellos", "server_names", "alerts", "versions")
_spec = importlib.util.spec_from_file_location(
    "tls_oracle", ROOT / "tests" / "data" / "tls" / "make_oracle.py"
)
assert _spec is not None and _spec.loader is not None
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)


def ours(path: Path) -> dict[str, Any]:
    pipe = _Pipeline(AnalysisConfig())
    with open_capture(path) as reader:
        for chunk in reader:
            pipe.prepare(chunk)
    t = pipe.tls.finalize()
    exchanges = pipe.tls.exchanges()
    return {
        "handshakes": t.handshakes,
        "server_hellos": t.server_hellos,
        "server_names": t.server_names,
        "alerts": t.alerts,
        "versions": t.versions,
        "streams": {  # by ClientHello frame: tcp.stream numbers may differ from tshark's on odd captures
            str(e.request_frame): {
                "hello_ms": None if e.first_response_ns is None else (e.first_response_ns - e.start_ns) / 1e6,
                "done_ms": None if e.last_response_ns is None else (e.last_response_ns - e.start_ns) / 1e6,
            }
            for e in exchanges
        },
    }


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= max(0.05, 0.01 * abs(b))


def compare(path: Path) -> dict[str, Any] | None:
    try:
        mine = ours(path)
    except CaptureFormatError as exc:
        return {"file": path.name, "error": str(exc)}
    try:
        theirs = oracle.facts(path)
    except subprocess.CalledProcessError as exc:  # tshark refuses some damaged files
        if not (mine["handshakes"] or mine["server_hellos"]):
            return None
        return {"file": path.name, "error": f"tshark: {exc.stderr.strip()[:200]}"}
    if not (mine["handshakes"] or mine["server_hellos"] or theirs["handshakes"] or theirs["server_hellos"]):
        return None
    theirs["alerts"] = {alert_name(int(k)): v for k, v in theirs["alerts"].items()}
    diffs = [k for k in KEYS if mine[k] != theirs[k]]
    times = 0
    theirs["streams"] = {str(v["client_hello_frame"]): v for v in theirs["streams"].values()}
    for frame, want in theirs["streams"].items():
        got = mine["streams"].get(frame)
        if got is None or not (
            _close(got["hello_ms"], want["hello_ms"]) and _close(got["done_ms"], want["done_ms"])
        ):
            times += 1
    extra = len(set(mine["streams"]) - set(theirs["streams"]))
    if times or extra:
        diffs.append(f"streams({times} differ, {extra} only ours)")
    row = {
        "file": path.name,
        "handshakes": theirs["handshakes"],
        "streams": len(theirs["streams"]),
        "diffs": diffs,
    }
    if diffs:
        row["ours"] = {k: mine[k] for k in KEYS}
        row["tshark"] = {k: theirs[k] for k in KEYS}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "public-corpus")
    ap.add_argument("--match", default="")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = []
    for path in sorted(args.corpus.glob("*.pcap*")):
        if args.match not in path.name:
            continue
        row = compare(path)
        if row is None:
            continue
        rows.append(row)
        print(
            f"{'OK  ' if not row.get('diffs') and 'error' not in row else 'DIFF'} {path.name} "
            f"{row.get('handshakes', '')} {row.get('diffs') or row.get('error') or ''}"
        )  # noqa: T201
        sys.stdout.flush()
    agree = sum(1 for r in rows if not r.get("diffs") and "error" not in r)
    print(f"{agree} of {len(rows)} files with TLS agree with tshark")  # noqa: T201
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
