"""Regenerate tests/data/dns_tcp/dns_tcp_netns.pcap from real DNS traffic between two network namespaces.

Run as root, by hand (the capture is committed; tests never run this):

    sudo .venv/bin/python tests/data/dns_tcp/make_captures.py
    python3 tests/data/dns_tcp/make_oracle.py

Needs iproute2 (ip), nftables, tcpdump and dnspython (in .venv).

Two namespaces joined by a veth pair with a 600-byte MTU and at most one segment per GSO packet (so every
TCP segment the programs send is a frame on the wire): the client 10.79.1.1 (pa-dt-cli) and the server
10.79.1.2 (pa-dt-srv), which runs a small DNS server on TCP and UDP port 53 (dnspython messages). tcpdump
records the server's interface (whole frames) while the client, with TCP_NODELAY writes and short pauses so
each write is its own segment:
- on one connection: a query sent whole, a query whose 2-byte length goes in its own segment before the
  message, and a query cut 7 bytes into the message;
- on another: three queries in one write (one segment), answered by the server in one write (one segment);
- asks for `big.example.test`: a ~2.5 kB answer of TXT records that spans several segments; the client's
  nftables drops the first of them once (the capture, on the server, sees it twice: the retransmission);
- asks for `split-resp.example.test`: the server writes the length, then the message in two parts;
- asks for `lost-tcp.example.test` (never answered) and closes after 1 s;
- over UDP: one answered query; `lost-udp.example.test` sent three times with one id (at 0 s, 1 s and
  6.5 s: tshark's 5-second window makes the third a new transaction) and never answered;
  `late-udp.example.test` sent at 0 s and again (same id) at 6 s, answered only the second time.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIENT_NS, SERVER_NS = "pa-dt-cli", "pa-dt-srv"
CLIENT_IF, SERVER_IF = "pa-dt-c", "pa-dt-s"
CLIENT_IP, SERVER_IP = "10.79.1.1", "10.79.1.2"
MTU = 600
BIG_PORT = 40999  # the client port of the `big` query, whose first answer segment is dropped once
PAUSE = 0.05


def _sh(*cmd: str, check: bool = True) -> None:
    subprocess.run(cmd, check=check)


def _ns(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd]


# ----------------------------------------------------------------------------------------- server side


def _answer(query: bytes, late_seen: set[int]) -> bytes | None:
    import dns.message
    import dns.rrset

    msg = dns.message.from_wire(query)
    name = msg.question[0].name.to_text()
    if name.startswith("lost-"):
        return None
    if name.startswith("late-") and msg.id not in late_seen:
        late_seen.add(msg.id)
        return None
    resp = dns.message.make_response(msg)
    if name.startswith("big."):
        for i in range(40):
            txt = f'"record {i:02d} ' + "x" * 40 + '"'
            resp.answer.append(dns.rrset.from_text(name, 60, "IN", "TXT", txt))
    else:
        resp.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.7"))
    return resp.to_wire()


def _tcp_client(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    with conn:
        while data := conn.recv(65535):
            buf += data
            out = []
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                query, buf = buf[2 : 2 + n], buf[2 + n :]
                wire = _answer(query, set())
                if wire is not None:
                    out.append(struct.pack("!H", len(wire)) + wire)
            for wire in out:
                if b"split-resp" in wire:  # the length, then the message in two writes
                    for part in (wire[:2], wire[2:20], wire[20:]):
                        conn.sendall(part)
                        time.sleep(PAUSE)
                    out.remove(wire)
            if out:
                conn.sendall(b"".join(out))  # pipelined answers: one write, one segment


def run_server() -> None:
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((SERVER_IP, 53))
    lsock.listen(16)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((SERVER_IP, 53))

    def tcp_loop() -> None:
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=_tcp_client, args=(conn,), daemon=True).start()

    def udp_loop() -> None:
        late_seen: set[int] = set()
        while True:
            data, peer = udp.recvfrom(65535)
            wire = _answer(data, late_seen)
            if wire is not None:
                udp.sendto(wire, peer)

    threading.Thread(target=tcp_loop, daemon=True).start()
    threading.Thread(target=udp_loop, daemon=True).start()
    print("ready", flush=True)
    time.sleep(3600)


# ----------------------------------------------------------------------------------------- client side


def _query(name: str, ident: int | None = None) -> bytes:
    import dns.message

    q = dns.message.make_query(name, "TXT" if name.startswith("big.") else "A")
    if ident is not None:
        q.id = ident
    return q.to_wire()


def _framed(name: str) -> bytes:
    wire = _query(name)
    return struct.pack("!H", len(wire)) + wire


def _connect(port: int = 0) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if port:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((CLIENT_IP, port))
    s.connect((SERVER_IP, 53))
    return s


def _read_answers(s: socket.socket, count: int) -> None:
    buf = b""
    while count:
        while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
            data = s.recv(65535)
            if not data:
                return
            buf += data
        n = struct.unpack("!H", buf[:2])[0]
        buf = buf[2 + n :]
        count -= 1


def _send_parts(s: socket.socket, *parts: bytes) -> None:
    for part in parts:
        s.sendall(part)
        time.sleep(PAUSE)


def tcp_scenarios() -> None:
    with _connect() as s:
        _send_parts(s, _framed("www.example.test"))
        _read_answers(s, 1)
        one = _framed("split-prefix.example.test")
        _send_parts(s, one[:2], one[2:])
        _read_answers(s, 1)
        two = _framed("mid.example.test")
        _send_parts(s, two[:9], two[9:])
        _read_answers(s, 1)
    time.sleep(0.2)
    with _connect() as s:
        s.sendall(b"".join(_framed(f"p{i}.example.test") for i in (1, 2, 3)))
        _read_answers(s, 3)
    time.sleep(0.2)
    with _connect(BIG_PORT) as s:
        _send_parts(s, _framed("big.example.test"))
        _read_answers(s, 1)
    time.sleep(0.2)
    with _connect() as s:
        _send_parts(s, _framed("split-resp.example.test"))
        _read_answers(s, 1)
    time.sleep(0.2)
    with _connect() as s:
        _send_parts(s, _framed("lost-tcp.example.test"))
        time.sleep(1.0)


def udp_scenarios() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        s.connect((SERVER_IP, 53))
        s.send(_query("udp-ok.example.test"))
        s.recv(4096)
        lost, late = _query("lost-udp.example.test", 0x1111), _query("late-udp.example.test", 0x2222)
        start = time.monotonic()
        s.send(lost)
        s.send(late)
        for at, msgs in ((1.0, (lost,)), (6.0, (late,)), (6.5, (lost,))):
            time.sleep(max(0.0, start + at - time.monotonic()))
            for m in msgs:
                s.send(m)
        time.sleep(0.5)


def run_client() -> None:
    tcp_scenarios()
    udp_scenarios()


# ----------------------------------------------------------------------------------------- set-up


def setup() -> None:
    teardown()
    for ns in (CLIENT_NS, SERVER_NS):
        _sh("ip", "netns", "add", ns)
        _sh(*_ns(ns, "ip", "link", "set", "lo", "up"))
    _sh(
        "ip",
        "link",
        "add",
        CLIENT_IF,
        "netns",
        CLIENT_NS,
        "type",
        "veth",
        "peer",
        "name",
        SERVER_IF,
        "netns",
        SERVER_NS,
    )
    for ns, dev, ip in ((CLIENT_NS, CLIENT_IF, CLIENT_IP), (SERVER_NS, SERVER_IF, SERVER_IP)):
        _sh(*_ns(ns, "ip", "link", "set", dev, "mtu", str(MTU), "gso_max_segs", "1"))
        _sh(*_ns(ns, "ip", "addr", "add", f"{ip}/24", "dev", dev))
        _sh(*_ns(ns, "ip", "link", "set", dev, "up"))
    # The first answer segment of the `big` query is dropped once on arrival at the client.
    nft = (
        "add table inet pa_dt",
        "add chain inet pa_dt input { type filter hook input priority 0; }",
        f"add rule inet pa_dt input tcp sport 53 tcp dport {BIG_PORT} meta length > 400 "
        "numgen inc mod 1000000 0 drop",
    )
    for rule in nft:
        _sh(*_ns(CLIENT_NS, "nft", rule))


def teardown() -> None:
    for ns in (CLIENT_NS, SERVER_NS):
        _sh("ip", "netns", "del", ns, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server:
        return run_server()
    if args.client:
        return run_client()
    for tool in ("ip", "nft", "tcpdump"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found")
    out = HERE / "dns_tcp_netns.pcap"
    setup()
    try:
        server = subprocess.Popen(
            _ns(SERVER_NS, sys.executable, __file__, "--server"), stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        dump = subprocess.Popen(
            _ns(SERVER_NS, "tcpdump", "-i", SERVER_IF, "-s", "0", "-U", "-w", str(out), "port", "53")
        )
        time.sleep(1.0)
        subprocess.run(_ns(CLIENT_NS, sys.executable, __file__, "--client"), check=True)
        time.sleep(0.5)
        dump.send_signal(signal.SIGINT)
        dump.wait(10)
        server.kill()
        server.wait()
    finally:
        teardown()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
