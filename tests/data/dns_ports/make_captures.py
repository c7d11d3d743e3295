"""Regenerate the captures of tests/data/dns_ports: DNS over UDP on ports that are not DNS's, and UDP traffic
that is not DNS, recorded on the loopback interface of a network namespace.

Run as root, by hand (the captures are committed; tests never run this):

    sudo .venv/bin/python tests/data/dns_ports/make_captures.py
    python3 tests/data/dns_ports/make_oracle.py

Needs iproute2 (ip), tcpdump, tshark (for its list of UDP ports), util-linux's `logger`, and dnspython (in
the project's virtual environment). Every datagram is sent by a real socket and every DNS message is made
by dnspython: queries by its stub (`dns.query.udp`), answers by a small server that parses each query and
answers it (`dns.message.make_response`).

`dns_ports.pcap`, in order:
- a DNS server on port 5300 answering a client: A, AAAA, TXT, NXDOMAIN, a 100-answer response and a
  101-answer one (over tshark's heuristic limit of 100 answers), a response with 11 additional records
  (limit 10);
- the same server on 443 (DNS where QUIC is expected, as some resolvers serve it) and on 161 (SNMP's port:
  tshark's SNMP rejects the DNS bytes, then its DNS heuristic takes them);
- DNS queries and answers on ports whose tshark dissector takes any payload: 123 (NTP), 514 (syslog) and
  137 with a NetBIOS name query in DNS format (NBNS);
- UDP that is not DNS: random bytes between two high ports, a QUIC Initial-like datagram (long header,
  version 1, padded to 1200 bytes) to 443, an RTP-like stream (version 2, PT 0, 160-byte frames), NTP client
  and server packets, an SNMPv2c GetRequest to 161, a syslog message (`logger --udp`), a DHCPDISCOVER.

`dns_port_table.pcap`: one DNS query and its answer on every UDP port that tshark 4.0 registers a dissector
on (`tshark -G decodes`, udp.port; 0 and the DNS ports left out) and on a few unregistered ones, each port
with its own pair of addresses (127.10.a.b client port 45000, 127.20.a.b server): where tshark shows DNS,
the port's dissector rejected the payload and the heuristic ran; where not, the port's dissector took it
(pcap_analyzer.decode.dns.HEUR_CLAIMED_UDP_PORTS).
"""

from __future__ import annotations

import argparse
import random
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

HERE = Path(__file__).resolve().parent
NS = "pa-dns-ports"
CLIENT, SERVER = "127.0.0.1", "127.0.0.2"
CLIENT_DNS_PORT = 45000
DNS_PORTS = {0, 53, 5353, 5355}
UNREGISTERED = (443, 1053, 5300, 8053, 30490)
NBNS_WILDCARD = "CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"  # "*" in NetBIOS first-level encoding (RFC 1002 4.1)


# ----------------------------------------------------------------------------------------- DNS server


def answer(wire: bytes) -> bytes | None:
    """The response to one DNS query (None when `wire` is not one)."""
    try:
        q = dns.message.from_wire(wire)
    except Exception:  # noqa: BLE001 (not DNS: no answer)
        return None
    r = dns.message.make_response(q)
    if not q.question:
        return r.to_wire()
    name = q.question[0].name
    label = name.labels[0].decode().lower() if name.labels else ""
    qtype = q.question[0].rdtype
    if label == "missing":
        r.set_rcode(dns.rcode.NXDOMAIN)
    elif label in ("hundred", "many"):
        n = 100 if label == "hundred" else 101
        r.answer.append(dns.rrset.from_text_list(name, 60, "IN", "A", [f"192.0.2.{i}" for i in range(n)]))
    elif label == "extra":
        r.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.1"))
        for i in range(11):
            r.additional.append(dns.rrset.from_text(f"ns{i}.example.test.", 60, "IN", "A", f"198.51.100.{i}"))
    elif qtype == dns.rdatatype.AAAA:
        r.answer.append(dns.rrset.from_text(name, 60, "IN", "AAAA", "2001:db8::1"))
    elif qtype == dns.rdatatype.TXT:
        r.answer.append(dns.rrset.from_text(name, 60, "IN", "TXT", '"pcap-analyzer test"'))
    elif qtype == 32:  # NetBIOS NB
        r.answer.append(dns.rrset.from_text(name, 0, "IN", "TYPE32", r"\# 6 0000c0000201"))
    else:
        r.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.1"))
    return r.to_wire()


def serve(socks: list[socket.socket], stop: threading.Event) -> None:
    """Answer every DNS query arriving on `socks`; read and drop anything else."""
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    while not stop.is_set():
        for key, _ in sel.select(0.1):
            s = key.fileobj
            assert isinstance(s, socket.socket)
            data, peer = s.recvfrom(65535)
            reply = answer(data)
            if reply is not None:
                s.sendto(reply, peer)


def udp_socket(addr: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    return s


def ask(name: str, rdtype: str, server: str, port: int, source: str = CLIENT, source_port: int = 0) -> None:
    q = dns.message.make_query(name, rdtype)
    dns.query.udp(q, server, port=port, timeout=2, source=source, source_port=source_port)
    time.sleep(0.02)


# ----------------------------------------------------------------------------------------- traffic


def quic_initial(rng: random.Random) -> bytes:
    dcid, scid = rng.randbytes(8), rng.randbytes(8)
    head = bytes([0xC3]) + struct.pack("!I", 1) + bytes([8]) + dcid + bytes([8]) + scid + b"\x00"
    body_len = 1200 - len(head) - 2
    return head + struct.pack("!H", 0x4000 | body_len) + rng.randbytes(body_len)


def snmp_get() -> bytes:
    """SNMPv2c GetRequest for sysDescr.0 (BER)."""
    varbind = b"\x30\x0c\x06\x08\x2b\x06\x01\x02\x01\x01\x01\x00\x05\x00"
    pdu_body = b"\x02\x04\x12\x34\x56\x78\x02\x01\x00\x02\x01\x00" + b"\x30" + bytes([len(varbind)]) + varbind
    pdu = b"\xa0" + bytes([len(pdu_body)]) + pdu_body
    body = b"\x02\x01\x01\x04\x06public" + pdu
    return b"\x30" + bytes([len(body)]) + body


def dhcp_discover(rng: random.Random) -> bytes:
    mac = bytes.fromhex("02000a4e0101")
    fixed = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, rng.getrandbits(32), 0, 0x8000,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac + b"\0" * 10, b"", b"")  # fmt: skip
    return fixed + b"\x63\x82\x53\x63" + b"\x35\x01\x01" + b"\x37\x03\x01\x03\x06" + b"\xff"


def run_mixed() -> None:
    """dns_ports.pcap's traffic (inside the namespace)."""
    rng = random.Random(1016)
    stop = threading.Event()
    dns_servers = [udp_socket(SERVER, p) for p in (5300, 443, 161, 123, 514, 137)]
    threading.Thread(target=serve, args=(dns_servers, stop), daemon=True).start()
    time.sleep(0.2)
    for name, rdtype in (
        ("www.example.test", "A"), ("v6.example.test", "AAAA"), ("txt.example.test", "TXT"),
        ("missing.example.test", "A"), ("hundred.example.test", "A"), ("many.example.test", "A"),
        ("extra.example.test", "A"), ("www.example.test", "A"),
    ):  # fmt: skip
        ask(name, rdtype, SERVER, 5300)
    for port in (443, 161, 123, 514):
        ask("svc.example.test", "A", SERVER, port)
        ask("svc.example.test", "AAAA", SERVER, port)
    nbns = dns.message.make_query(NBNS_WILDCARD, 32)
    nbns.flags = dns.flags.RD | 0x0010  # broadcast bit, as Windows sends it
    dns.query.udp(nbns, SERVER, port=137, timeout=2, source=CLIENT, source_port=137)

    a, b = udp_socket(CLIENT, 40001), udp_socket(SERVER, 40002)
    for _ in range(20):
        a.sendto(rng.randbytes(rng.randrange(13, 600)), (SERVER, 40002))
        b.sendto(rng.randbytes(rng.randrange(13, 600)), (CLIENT, 40001))
    quic = udp_socket(CLIENT, 51000)
    for _ in range(3):
        quic.sendto(quic_initial(rng), (SERVER, 443))
    rtp_tx, _rtp_rx = udp_socket(CLIENT, 5004), udp_socket(SERVER, 5006)
    ssrc, seq, ts = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(32)
    for k in range(50):
        marker_pt = 0x80 if k == 0 else 0x00
        head = struct.pack("!BBHII", 0x80, marker_pt, (seq + k) & 0xFFFF, (ts + 160 * k) & 0xFFFFFFFF, ssrc)
        rtp_tx.sendto(head + rng.randbytes(160), (SERVER, 5006))
        time.sleep(0.002)
    ntp_c, ntp_s, _ntp_peer = udp_socket(CLIENT, 50123), udp_socket(SERVER, 1123), udp_socket(CLIENT, 123)
    ntp_c.sendto(b"\x23" + b"\0" * 39 + struct.pack("!II", 0xE9000000, rng.getrandbits(32)), (SERVER, 123))
    ntp_s.sendto(b"\x24\x02\x00\xe7" + rng.randbytes(44), (CLIENT, 123))  # from an ephemeral port, to 123
    snmp = udp_socket(CLIENT, 50161)
    snmp.sendto(snmp_get(), (SERVER, 161))
    subprocess.run(["logger", "--udp", "--server", SERVER, "--port", "514", "pcap-analyzer dns_ports test"],
                   check=True)  # fmt: skip
    dhcp, _dhcp_server = udp_socket(CLIENT, 68), udp_socket(SERVER, 67)
    dhcp.sendto(dhcp_discover(rng), (SERVER, 67))
    time.sleep(0.5)
    stop.set()


def table_ports() -> list[int]:
    out = subprocess.run(["tshark", "-G", "decodes"], check=True, capture_output=True, text=True).stdout
    ports = {int(f[1]) for f in (line.split("\t") for line in out.splitlines()) if f[0] == "udp.port"}
    return sorted((ports | set(UNREGISTERED)) - DNS_PORTS)


def run_table() -> None:
    """dns_port_table.pcap's traffic (inside the namespace)."""
    ports = table_ports()
    hosts = [f"{n // 200}.{n % 200 + 1}" for n in range(len(ports))]
    pairs = [(f"127.10.{h}", f"127.20.{h}") for h in hosts]
    stop = threading.Event()
    socks = [udp_socket(srv, p) for p, (_, srv) in zip(ports, pairs, strict=True)]
    threading.Thread(target=serve, args=(socks, stop), daemon=True).start()
    time.sleep(0.2)
    for p, (cli, srv) in zip(ports, pairs, strict=True):
        ask("www.example.com", "A", srv, p, source=cli, source_port=CLIENT_DNS_PORT)
    time.sleep(0.3)
    stop.set()


# ----------------------------------------------------------------------------------------- set-up, capture


def sh(*args: str, check: bool = True) -> None:
    subprocess.run(args, check=check, stdout=subprocess.DEVNULL, stderr=None if check else subprocess.DEVNULL)


def record(pcap: Path, part: str) -> None:
    sh("ip", "netns", "del", NS, check=False)
    sh("ip", "netns", "add", NS)
    try:
        sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
        tcpdump = ["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-Z", "root", "-w", str(pcap), "udp"]
        dump = subprocess.Popen(["ip", "netns", "exec", NS, *tcpdump], stderr=subprocess.PIPE, text=True)
        assert dump.stderr is not None and "listening on" in dump.stderr.readline()
        time.sleep(0.3)
        subprocess.run(["ip", "netns", "exec", NS, sys.executable, str(Path(__file__).resolve()), part],
                       check=True)  # fmt: skip
        time.sleep(1.0)  # the last packets reach the file
        dump.send_signal(signal.SIGINT)
        print(pcap.name, dump.communicate(timeout=10)[1].strip())
    finally:
        sh("ip", "netns", "del", NS, check=False)


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] in ("_mixed", "_table"):
        (run_mixed if sys.argv[1] == "_mixed" else run_table)()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: %(default)s)")
    args = parser.parse_args()
    for tool in ("ip", "tcpdump", "tshark", "logger"):
        if shutil.which(tool) is None:
            sys.exit(f"make_captures: {tool} is not installed")
    args.out.mkdir(parents=True, exist_ok=True)
    record(args.out / "dns_ports.pcap", "_mixed")
    record(args.out / "dns_port_table.pcap", "_table")


if __name__ == "__main__":
    main()
