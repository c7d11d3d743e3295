"""Write oracle.json: tshark's view of every HTTP message in the captures of this folder.

    .venv/bin/python tests/data/http/make_oracle.py

Two tshark passes per capture:
- `-o http.desegment_body:FALSE` (headers still reassembled across segments): each response is reported at
  the frame that completes its headers, so `http.time` is request -> first response byte, our
  `response_time_ms`; `http.request_in` is the frame that completes the request headers.
- default preferences (bodies reassembled): each response is reported at the frame holding the last byte
  of its body, so `http.time` there is request -> last response byte; minus the first pass's value, it is our
  transfer time.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAPTURES = ("http_mixed.pcap", "http_breakdown.pcap")
FIELDS = (
    "frame.number", "frame.time_epoch", "tcp.stream", "http.request", "http.response", "http.request.method",
    "http.host", "http.request.uri", "http.response.code", "http.time", "http.request_in",
)


def _tshark(pcap: Path, *prefs: str) -> list[dict[str, str]]:
    cmd = ["tshark", "-r", str(pcap), "-n", *prefs, "-Y", "http.request || http.response", "-T", "fields",
           "-E", "separator=\t", "-E", "aggregator=|"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines() if line]


def _split(rows: list[dict[str, str]], kind: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    """One dict per message of `kind` (a frame may hold several: a pipelined pair in one segment)."""
    out = []
    for r in rows:
        if not r[kind]:
            continue
        cols = {name: r[name].split("|") for name in names}
        for i in range(len(cols[names[0]])):
            msg = {"frame.number": r["frame.number"], "frame.time_epoch": r["frame.time_epoch"],
                   "tcp.stream": r["tcp.stream"]}
            msg.update({name: v[i] if i < len(v) else "" for name, v in cols.items()})
            out.append(msg)
    return out


def _messages(pcap: Path) -> dict[str, object]:
    rows, full = _tshark(pcap, "-o", "http.desegment_body:FALSE"), _tshark(pcap)
    first = _split(rows, "http.request", ("http.request.method", "http.host", "http.request.uri"))
    first += _split(rows, "http.response", ("http.response.code", "http.time", "http.request_in"))
    first.sort(key=lambda m: int(m["frame.number"]))
    full = _split(full, "http.response", ("http.response.code", "http.time", "http.request_in"))
    last_time = {r["http.request_in"]: r["http.time"] for r in full if r["http.request_in"]}
    requests = [
        {"frame": int(r["frame.number"]), "stream": int(r["tcp.stream"]), "method": r["http.request.method"],
         "host": r["http.host"], "uri": r["http.request.uri"], "ts": r["frame.time_epoch"]}
        for r in first if r.get("http.request.method")
    ]
    responses = [
        {"frame": int(r["frame.number"]), "stream": int(r["tcp.stream"]),
         "status": int(r["http.response.code"]),
         "request_in": int(r["http.request_in"]) if r["http.request_in"] else None,
         "time_s": r["http.time"] or None, "last_byte_time_s": last_time.get(r["http.request_in"]) or None}
        for r in first if r.get("http.response.code")
    ]
    return {"requests": requests, "responses": responses}


def main() -> None:
    version = subprocess.run(["tshark", "--version"], check=True, capture_output=True, text=True)
    oracle = {
        "tshark": version.stdout.splitlines()[0],
        "captures": {name: _messages(HERE / name) for name in CAPTURES},
    }
    (HERE / "oracle.json").write_text(json.dumps(oracle, indent=1) + "\n")


if __name__ == "__main__":
    main()
