"""Write tests/data/dns_ports/oracle.json: which frames of this folder's captures tshark shows as DNS.

    python3 tests/data/dns_ports/make_oracle.py

tshark two-pass, default preferences (so its UDP DNS heuristic is on, as it is by default in 4.0), fields
of the first DNS message of each frame (`-E occurrence=f`).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAPTURES = ("dns_ports.pcap", "dns_port_table.pcap")
FIELDS = ["frame.number", "udp.srcport", "udp.dstport", "dns.flags.response", "dns.id", "_ws.col.Protocol"]
DNS_PORTS = {"53", "5353", "5355"}
DEFINITIONS = {
    "udp_frames": "frames with udp.srcport",
    "dns_frames": "frame.number -> dns.flags.response, for the frames that have one",
    "queries / responses": "frames with dns.flags.response 0 / 1",
    "other_port": "the same, for frames with neither UDP port 53, 5353 or 5355 (DNS found by the heuristic)",
}


def _rows(path: Path) -> list[list[str]]:
    cmd = ["tshark", "-n", "-2", "-r", str(path), "-T", "fields", "-E", "occurrence=f", "-E", "separator=\t"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def facts(path: Path) -> dict[str, object]:
    frames = []
    for number, sport, dport, qr, _id, proto in _rows(path):
        if sport:
            frames.append((int(number), int(sport), int(dport), int(qr) if qr else None, proto))
    dns = [f for f in frames if f[3] is not None]
    other = [f for f in dns if not {str(f[1]), str(f[2])} & DNS_PORTS]
    return {
        "file": {"bytes": path.stat().st_size, "frames": len(_rows(path))},
        "queries": sum(f[3] == 0 for f in dns),
        "responses": sum(f[3] == 1 for f in dns),
        "other_port": {"queries": sum(f[3] == 0 for f in other), "responses": sum(f[3] == 1 for f in other)},
        "udp_frames": len(frames),
        "dns_frames": {str(f[0]): f[3] for f in dns},
    }


def main() -> None:
    version = subprocess.run(["tshark", "--version"], check=True, capture_output=True, text=True)
    oracle = {
        "tshark_version": version.stdout.splitlines()[0],
        "definitions": DEFINITIONS,
        "captures": {name: facts(HERE / name) for name in CAPTURES},
    }
    (HERE / "oracle.json").write_text(json.dumps(oracle, indent=1) + "\n")


if __name__ == "__main__":
    main()
