"""Write tests/data/dns_tcp/oracle.json: tshark's facts about the DNS messages of the captures in this folder.

    python3 tests/data/dns_tcp/make_oracle.py

Two passes, default preferences (tshark reassembles DNS over TCP and dissects each message in the frame that
completes it); every occurrence of a field is kept (`-E occurrence=a`), so a frame that completes several
messages lists them all. `definitions` says how each figure is made.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAPTURES = ["dns_tcp_netns.pcap"]
FIELDS = ["frame.number", "tcp.stream", "dns.flags.response", "dns.id", "dns.flags.rcode", "dns.time"]
UNANSWERED = "dns.flags.response == 0 && !dns.response_in"
DEFINITIONS = {
    "messages": "[frame, transport ('tcp' when tcp.stream is set, else 'udp'), dns.flags.response, dns.id] "
    "of every DNS message, in frame order (every occurrence of the fields in a frame)",
    "queries / responses": "messages with dns.flags.response 0 / 1",
    "by_protocol": "the same per transport: 'dns' (UDP) and 'dns_tcp', as [queries, responses]",
    "rcodes": "responses by dns.flags.rcode",
    "query_frames": "frames matching dns.flags.response == 0",
    "unanswered_query_frames": f"frames matching {UNANSWERED}",
    "tcp_response_times_ms": "dns.time of the responses over TCP, in ms, sorted",
    "tcp_retransmitted_frames": "frames matching tcp.analysis.retransmission",
}


def _tshark(path: Path, *args: str) -> list[str]:
    out = subprocess.run(
        ["tshark", "-r", str(path), "-2", *args], capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()


def _count(path: Path, display_filter: str) -> int:
    return len(_tshark(path, "-Y", display_filter, "-T", "fields", "-e", "frame.number"))


def facts(path: Path) -> dict:
    """The oracle's facts about one capture."""
    args = ["-Y", "dns", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=/t"]
    for f in FIELDS:
        args += ["-e", f]
    messages, times, rcodes = [], [], Counter()
    for line in _tshark(path, *args):
        frame, stream, qr, ids, rc, tm = line.split("\t")
        transport = "tcp" if stream else "udp"
        for flag, ident in zip(qr.split(","), ids.split(","), strict=True):
            messages.append([int(frame), transport, int(flag), int(ident, 16)])
        rcodes.update(rc.split(",") if rc else [])  # tshark shows dns.flags.rcode in responses only
        if transport == "tcp" and tm:
            times += [round(float(t) * 1000, 6) for t in tm.split(",")]
    by_protocol = {}
    for transport, name in (("udp", "dns"), ("tcp", "dns_tcp")):
        mine = [m for m in messages if m[1] == transport]
        if mine:
            by_protocol[name] = [sum(m[2] == 0 for m in mine), sum(m[2] == 1 for m in mine)]
    return {
        "messages": messages,
        "queries": sum(m[2] == 0 for m in messages),
        "responses": sum(m[2] == 1 for m in messages),
        "by_protocol": by_protocol,
        "rcodes": dict(sorted(rcodes.items())),
        "query_frames": _count(path, "dns.flags.response == 0"),
        "unanswered_query_frames": _count(path, UNANSWERED),
        "tcp_response_times_ms": sorted(times),
        "tcp_retransmitted_frames": [
            int(x)
            for x in _tshark(path, "-Y", "tcp.analysis.retransmission", "-T", "fields", "-e", "frame.number")
        ],
    }


def main() -> None:
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True, check=True).stdout
    oracle = {
        "generator": {
            "tshark": version.splitlines()[0],
            "command": "tshark -r FILE -2 -Y dns -T fields -E occurrence=a -e ... (default preferences)",
        },
        "definitions": DEFINITIONS,
        "captures": {name: facts(HERE / name) for name in CAPTURES},
    }
    (HERE / "oracle.json").write_text(json.dumps(oracle, indent=1) + "\n")
    print(f"wrote {HERE / 'oracle.json'}")


if __name__ == "__main__":
    main()
