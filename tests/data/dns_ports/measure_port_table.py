"""Write tests/data/dns_ports/port_table.json: on each UDP port tshark registers a dissector on, how many of
256 DNS queries and of their 256 answers tshark shows as DNS (the port's dissector rejected the payload and
the DNS heuristic took it) rather than as the port's protocol.

    python3 tests/data/dns_ports/measure_port_table.py   # needs tshark; scapy from the project's .venv

The messages are those of dns_port_table.pcap (a query for www.example.com A from port 45000 to the port,
its one-answer response back), with the 256 values of the id's first byte (the second one random), each
pair on its own addresses; they are written to a temporary file (17 MB), not kept. Most dissectors take
every message or none; a few decide by the first bytes, the length or the direction (`mixed`).
"""

from __future__ import annotations

import json
import random
import re
import struct
import subprocess
import tempfile
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR

HERE = Path(__file__).resolve().parent
SAMPLES = 256
CLIENT_PORT = 45000
DNS_PORTS = {0, 53, 5353, 5355}
ETHERNET = bytes.fromhex("020000000002" "020000000001" "0800")


def registered_ports() -> list[int]:
    out = subprocess.run(["tshark", "-G", "decodes"], check=True, capture_output=True, text=True).stdout
    ports = {int(f[1]) for f in (line.split("\t") for line in out.splitlines()) if f[0] == "udp.port"}
    return sorted(ports - DNS_PORTS)


def _frame(src: int, dst: int, sport: int, dport: int, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    frame = ETHERNET + ip + udp
    return struct.pack("<IIII", 1_700_000_000, 0, len(frame), len(frame)) + frame


def main() -> None:
    rng = random.Random(1016)
    query = bytes(DNS(id=0, rd=1, qd=DNSQR(qname="www.example.com", qtype="A")))
    answer = DNSRR(rrname="www.example.com", rdata="192.0.2.1")
    response = bytes(DNS(id=0, qr=1, rd=1, ra=1, qd=DNSQR(qname="www.example.com", qtype="A"), an=answer))
    ports = registered_ports()
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    n = 0
    for port in ports:
        for first in range(SAMPLES):
            ident = struct.pack("!BB", first, rng.randrange(256))
            client, server = 0x0A000000 + n, 0x0B000000 + n
            n += 1
            out += _frame(client, server, CLIENT_PORT, port, ident + query[2:])
            out += _frame(server, client, port, CLIENT_PORT, ident + response[2:])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sweep.pcap"
        path.write_bytes(out)
        cmd = ["tshark", "-n", "-2", "-r", str(path), "-T", "fields", "-e", "dns.flags.response"]
        shown = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()
    counts = {p: [0, 0] for p in ports}
    for k, qr in enumerate(shown):
        counts[ports[k // (2 * SAMPLES)]][k % 2] += qr != ""
    version = subprocess.run(["tshark", "--version"], check=True, capture_output=True, text=True)
    table = {
        "tshark_version": version.stdout.splitlines()[0],
        "samples": SAMPLES,
        "definition": "udp port -> [queries to it, answers from it] shown as DNS, of `samples` each",
        "dns": {str(p): c for p, c in counts.items()},
    }
    text = re.sub(r"\[\s+(\d+),\s+(\d+)\s+\]", r"[\1, \2]", json.dumps(table, indent=1))  # a port a line
    (HERE / "port_table.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
