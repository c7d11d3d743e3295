"""Write tests/data/tls/oracle.json: tshark's TLS facts about the captures in tests/data/tls.

    python3 tests/data/tls/make_oracle.py

Standard library and tshark only. tshark reads each capture with default preferences (WIRESHARK_CONFIG_DIR
is an empty temporary folder), the relay and test ports decoded as TLS (`-d tcp.port==N,tls`), and prints
one row of fields per frame (every occurrence, in record order); the figures are computed from those rows as
the "definitions" in the file say. The tshark version is recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CAPTURES = ("tls_handshakes.pcap",)
TLS_PORTS = (8443, 8444, 9443, 9444)
FIELDS = (
    "frame.number frame.time_epoch tcp.stream tcp.srcport tls.record.content_type tls.record.opaque_type "
    "tls.handshake.type tcp.segment.count "
    "tls.handshake.extensions_server_name tls.alert_message.desc tls.handshake.extensions_alpn_str "
    "tls.handshake.version tls.handshake.extensions.supported_version"
).split()
VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
DEFINITIONS = {
    "handshakes": "occurrences of tls.handshake.type == 1 (ClientHello), over all frames",
    "server_hellos": "occurrences of tls.handshake.type == 2 (ServerHello)",
    "server_names": "tls.handshake.extensions_server_name of ClientHello frames -> count",
    "alerts": "tls.alert_message.desc (number, cleartext alerts only) -> count",
    "alpn_offered": "each protocol of tls.handshake.extensions_alpn_str in ClientHello frames -> count",
    "alpn_selected": "tls.handshake.extensions_alpn_str of ServerHello frames -> count",
    "versions": "per stream with a ServerHello: its tls.handshake.extensions.supported_version, else its "
    "tls.handshake.version",
    "streams.*.client_hello_segments": "tcp.segment.count of the first ClientHello's frame (1 if absent)",
    "streams.*.hello_ms": "first ServerHello frame time - first ClientHello frame time (frame.time_epoch)",
    "streams.*.done_ms": "handshake done - first ClientHello: TLS 1.3: the later of the first "
    "application-data record (tls.record.content_type or tls.record.opaque_type 23) from each side, at or "
    "after the ServerHello frame; TLS <= 1.2: the server's first ChangeCipherSpec record (content type 20) "
    "after the ServerHello",
}


def _rows(path: Path) -> list[dict[str, list[str]]]:
    with tempfile.TemporaryDirectory() as conf:
        cmd = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|"]
        for port in TLS_PORTS:
            cmd += ["-d", f"tcp.port=={port},tls"]
        for f in FIELDS:
            cmd += ["-e", f]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                             env={**os.environ, "WIRESHARK_CONFIG_DIR": conf}).stdout  # fmt: skip
    rows = []
    for line in out.splitlines():
        cols = line.split("\t")
        rows.append({f: (c.split("|") if c else []) for f, c in zip(FIELDS, cols, strict=True)})
    return rows


def _version(text: str) -> str:
    value = int(text, 0)
    return VERSIONS.get(value, f"0x{value:04x}")


def facts(path: Path) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    names: Counter[str] = Counter()
    alerts: Counter[str] = Counter()
    offered: Counter[str] = Counter()
    selected: Counter[str] = Counter()
    streams: dict[int, dict[str, Any]] = {}
    for r in _rows(path):
        if not r["tcp.stream"]:
            continue
        ts, frame = float(r["frame.time_epoch"][0]), int(r["frame.number"][0])
        stream, port = int(r["tcp.stream"][0]), int(r["tcp.srcport"][0])
        types = [int(t) for t in r["tls.handshake.type"]]
        counts["handshakes"] += types.count(1)
        counts["server_hellos"] += types.count(2)
        alerts.update(r["tls.alert_message.desc"])
        s = streams.setdefault(stream, {})
        if 1 in types:
            names.update(r["tls.handshake.extensions_server_name"])
            for alpn in r["tls.handshake.extensions_alpn_str"]:
                offered[alpn] += 1
            if "ch_ts" not in s:
                sni = (r["tls.handshake.extensions_server_name"] or [None])[0]
                segments = int((r["tcp.segment.count"] or ["1"])[0])
                s.update(ch_ts=ts, ch_frame=frame, client_port=port, sni=sni, ch_segments=segments)
        if 2 in types:
            selected.update(r["tls.handshake.extensions_alpn_str"])
        if 2 in types and "ch_ts" in s and "sh_ts" not in s:
            sv = r["tls.handshake.extensions.supported_version"]
            s.update(sh_ts=ts, sh_frame=frame, version=_version((sv or r["tls.handshake.version"])[0]))
        if "sh_ts" not in s or "done_ts" in s:
            continue
        side = "client" if port == s["client_port"] else "server"
        # tshark names the outer type of TLS 1.3 encrypted records tls.record.opaque_type
        ctypes = [int(c) for c in r["tls.record.content_type"] + r["tls.record.opaque_type"]]
        if s["version"] == "TLS 1.3" and 23 in ctypes:
            s.setdefault(f"app_{side}_ts", ts)
            if "app_client_ts" in s and "app_server_ts" in s:
                s["done_ts"] = max(s["app_client_ts"], s["app_server_ts"])
        elif s["version"] != "TLS 1.3" and side == "server" and 20 in ctypes:
            s["done_ts"] = ts
    per_stream = {}
    for stream, s in sorted(streams.items()):
        if "ch_ts" not in s:
            continue
        hello = round((s["sh_ts"] - s["ch_ts"]) * 1e3, 6) if "sh_ts" in s else None
        done = round((s["done_ts"] - s["ch_ts"]) * 1e3, 6) if "done_ts" in s else None
        per_stream[str(stream)] = {
            "client_hello_frame": s["ch_frame"],
            "client_hello_segments": s["ch_segments"],
            "server_hello_frame": s.get("sh_frame"),
            "sni": s["sni"],
            "version": s.get("version"),
            "hello_ms": hello,
            "done_ms": done,
        }
    versions = Counter(s["version"] for s in per_stream.values() if s["version"])
    return {
        "handshakes": counts["handshakes"],
        "server_hellos": counts["server_hellos"],
        "server_names": dict(sorted(names.items())),
        "alerts": dict(sorted(alerts.items())),
        "alpn_offered": dict(sorted(offered.items())),
        "alpn_selected": dict(sorted(selected.items())),
        "versions": dict(sorted(versions.items())),
        "streams": per_stream,
    }


def main() -> None:
    version = subprocess.run(["tshark", "--version"], check=True, capture_output=True, text=True)
    oracle = {
        "tshark": version.stdout.splitlines()[0],
        "decode_as_tls_ports": list(TLS_PORTS),
        "definitions": DEFINITIONS,
        "captures": {name: facts(HERE / name) for name in CAPTURES},
    }
    (HERE / "oracle.json").write_text(json.dumps(oracle, indent=1) + "\n")


if __name__ == "__main__":
    main()
