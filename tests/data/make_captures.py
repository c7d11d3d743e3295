"""Regenerate the test captures in tests/data from real Linux traffic between network namespaces.

Run as root, by hand (the captures are committed; tests never run this):

    sudo .venv/bin/python tests/data/make_captures.py          # then: python tests/data/make_oracle.py

Needs iproute2 (ip, tc), nftables, ethtool, tcpdump, editcap (wireshark-common) and scapy (test extra).

Three namespaces: the client 10.77.1.1 (pa-td-cli), a router (pa-td-rtr) and the server 10.77.2.1
(pa-td-srv), joined by veth pairs with offloads off, so every segment is a real frame. The router drops 1 %
of what the client sends at random (nftables numgen; this kernel has no netem) and forwards to the server
through a 20 Mbit/s token bucket with a short queue. tcpdump on the server's interface records with snaplen
128 while the client runs, for about fifteen seconds:
- two bulk uploads of 3 MB to port 5001 (random loss and queue drops behind the rate limit);
- 300 short request/response connections to port 5002, some aborted by RST from either side;
- 20 connection attempts to the closed port 5009 (refused with RST);
- a 256 kB upload to port 5003 whose reader drains a tiny receive buffer slowly (zero windows);
- 500 DNS queries to 10.77.2.1:53, one socket each; names say how the server answers: ``nx-`` gets
  NXDOMAIN, ``slow-`` waits 0.2-1.5 s, ``lost-`` is never answered (the client re-sends it once, same
  id, after 1 s), the rest get an A record at once;
- an RTP-like UDP stream (G.711: 160-byte payload every 20 ms) to port 5004, which queues behind
  the uploads (jitter).

Written from the one recording: netns_mixed_s128.pcap (as captured), netns_mixed.pcapng and
netns_mixed_nsec.pcap (converted by editcap), netns_mixed_truncated.pcap (its first 60 %, cut inside a
record), and dns_hostile_names.pcap (built with scapy: three DNS queries whose names are HTML/JS, each
answered 10 ms later).
"""

from __future__ import annotations

import argparse
import random
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
CLIENT_NS, ROUTER_NS, SERVER_NS = "pa-td-cli", "pa-td-rtr", "pa-td-srv"
CLIENT_IP, SERVER_IP = "10.77.1.1", "10.77.2.1"
ROUTER_CLIENT_IF, ROUTER_SERVER_IF, SERVER_IF = "pa-td-rc", "pa-td-rs", "pa-td-s"
# (namespace, interface, address, MAC) of each end host, (interface, address, MAC) of its router side
LINKS = [
    (
        (CLIENT_NS, "pa-td-c", CLIENT_IP, "02:00:0a:4d:01:01"),
        (ROUTER_CLIENT_IF, "10.77.1.254", "02:00:0a:4d:01:fe"),
    ),
    (
        (SERVER_NS, SERVER_IF, SERVER_IP, "02:00:0a:4d:02:01"),
        (ROUTER_SERVER_IF, "10.77.2.254", "02:00:0a:4d:02:fe"),
    ),
]
LOSS_PERCENT = 1
BULK_PORT, RR_PORT, SLOW_PORT, RTP_PORT, CLOSED_PORT = 5001, 5002, 5003, 5004, 5009
SNAPLEN = 128
TRUNCATE_AT = 0.6  # share of netns_mixed_s128.pcap kept in netns_mixed_truncated.pcap


# ----------------------------------------------------------------------------------------- server side


def _serve_tcp(port: int, handler, rcvbuf: int | None = None) -> None:
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # inherited by accepted sockets
    lsock.bind((SERVER_IP, port))
    lsock.listen(512)

    def loop() -> None:
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def _drain(conn: socket.socket) -> None:
    with conn:
        while conn.recv(1 << 16):
            pass


def _drain_slowly(conn: socket.socket) -> None:
    with conn:
        while conn.recv(4096):
            time.sleep(0.05)


def _answer_request(conn: socket.socket) -> None:
    """One line "<size> <mode>": reply with size bytes, or reset the connection when mode is "reset"."""
    with conn:
        line = b""
        while not line.endswith(b"\n"):
            part = conn.recv(256)
            if not part:
                return
            line += part
        size, mode = line.decode().split()
        if mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        try:
            conn.sendall(b"x" * int(size))
            conn.shutdown(socket.SHUT_WR)
            conn.recv(16)  # the client's FIN
        except OSError:
            pass  # the client aborted


def _qname(query: bytes) -> str:
    labels, i = [], 12
    while query[i]:
        labels.append(query[i + 1 : i + 1 + query[i]].decode("ascii", "replace"))
        i += 1 + query[i]
    return ".".join(labels)


def dns_response(query: bytes, rcode: int, address: str | None) -> bytes:
    """The response to `query` (one question): flags QR|RD|RA with `rcode`, one A record if `address`."""
    end = query.index(b"\0", 12) + 5  # question: name, type, class
    header = query[:2] + struct.pack("!HHHHH", 0x8180 | rcode, 1, 1 if address else 0, 0, 0)
    answer = b""
    if address:
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(address)
    return header + query[12:end] + answer


def _serve_dns(rng: random.Random) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((SERVER_IP, 53))
    lock = threading.Lock()

    def send(data: bytes, peer: tuple[str, int]) -> None:
        with lock:
            sock.sendto(data, peer)

    while True:
        query, peer = sock.recvfrom(512)
        name = _qname(query)
        if name.startswith("lost-"):
            continue
        if name.startswith("nx-"):
            send(dns_response(query, 3, None), peer)
        elif name.startswith("slow-"):
            reply = dns_response(query, 0, f"10.77.9.{rng.randrange(1, 255)}")
            threading.Timer(rng.uniform(0.2, 1.5), send, (reply, peer)).start()
        else:
            send(dns_response(query, 0, f"10.77.9.{rng.randrange(1, 255)}"), peer)


def run_server(seed: int) -> None:
    """Every service of the scenario, until killed."""
    _serve_tcp(BULK_PORT, _drain)
    _serve_tcp(RR_PORT, _answer_request)
    _serve_tcp(SLOW_PORT, _drain_slowly, rcvbuf=4096)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind((SERVER_IP, RTP_PORT))
    threading.Thread(target=lambda: [rtp.recv(2048) for _ in iter(int, 1)], daemon=True).start()
    print("ready", flush=True)
    _serve_dns(random.Random(seed))


# ----------------------------------------------------------------------------------------- client side


def _bulk(size: int) -> None:
    with socket.create_connection((SERVER_IP, BULK_PORT)) as s:
        s.sendall(b"b" * size)
        s.shutdown(socket.SHUT_WR)
        s.recv(16)


def _slow_reader_upload() -> None:
    with socket.create_connection((SERVER_IP, SLOW_PORT)) as s:
        s.sendall(b"s" * (256 << 10))
        s.shutdown(socket.SHUT_WR)
        s.recv(16)


def _short_connections(rng: random.Random, count: int) -> None:
    for _ in range(count):
        time.sleep(rng.uniform(0.01, 0.04))
        size = rng.choice([200, 600, 1400, 3000, 9000, 20000])
        roll = rng.random()
        mode = "reset" if roll < 0.05 else "abort" if roll < 0.12 else "normal"
        try:
            s = socket.create_connection((SERVER_IP, RR_PORT), timeout=5)
        except OSError:
            continue
        with s:
            try:
                s.sendall(f"{size} {mode}\n".encode())
                if mode == "abort":  # read a little, then reset the connection
                    s.recv(100)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    continue
                got = 0
                while chunk := s.recv(1 << 16):
                    got += len(chunk)
            except OSError:
                pass


def _refused(rng: random.Random, count: int) -> None:
    for _ in range(count):
        time.sleep(rng.uniform(0.1, 0.4))
        try:
            socket.create_connection((SERVER_IP, CLOSED_PORT), timeout=2).close()
        except OSError:
            pass


def dns_query(qid: int, name: str) -> bytes:
    """A standard query (RD set) for the A record of `name`."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", 1, 1)


def _one_dns_query(qid: int, name: str) -> None:
    started = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        query = dns_query(qid, name)
        for _ in range(2):  # one re-send after a 1 s timeout, like a stub resolver
            s.sendto(query, (SERVER_IP, 53))
            try:
                s.recv(512)
                break
            except TimeoutError:
                continue
        # Stay open for late answers (a slow one to the first try, then one to the re-send): a closed port
        # would make ICMP errors quoting DNS, which tshark counts as DNS responses and the engine does not.
        time.sleep(max(0.0, started + 3.0 - time.monotonic()))


def _dns(rng: random.Random, count: int, span_s: float) -> list[threading.Thread]:
    threads = []
    for i in range(count):
        time.sleep(rng.expovariate(count / span_s))
        roll = rng.random()
        prefix = "lost-" if roll < 0.05 else "nx-" if roll < 0.15 else "slow-" if roll < 0.25 else "host-"
        name = f"{prefix}{i}.{rng.choice(['example.test', 'svc.internal', 'corp.example'])}"
        t = threading.Thread(target=_one_dns_query, args=(rng.randrange(1 << 16), name))
        t.start()
        threads.append(t)
    return threads


def _rtp(duration_s: float) -> None:
    """RTP version 2, payload type 0 (PCMU): 160 bytes of payload every 20 ms, timestamp +160."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    for seq in range(int(duration_s / 0.02)):
        delay = start + seq * 0.02 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        header = struct.pack("!BBHII", 0x80, 0, seq, 160 * seq, 0x5EED0001)
        s.sendto(header + bytes([0xFF]) * 160, (SERVER_IP, RTP_PORT))
    s.close()


def run_client(seed: int) -> None:
    """The whole scenario; returns when every exchange has finished."""
    rng = random.Random(seed)
    jobs = [
        threading.Thread(target=_rtp, args=(9.0,)),
        threading.Thread(target=_short_connections, args=(random.Random(rng.random()), 300)),
        threading.Thread(target=_refused, args=(random.Random(rng.random()), 20)),
    ]
    for j in jobs:
        j.start()
    dns = threading.Thread(target=lambda: jobs.extend(_dns(random.Random(rng.random()), 500, 8.0)))
    dns.start()
    time.sleep(0.5)
    later = [threading.Thread(target=_slow_reader_upload)]
    later[0].start()
    time.sleep(1.0)
    later += [threading.Thread(target=_bulk, args=(3 << 20,)) for _ in range(2)]
    for j in later[1:]:
        j.start()
    dns.join()
    for j in [*jobs, *later]:
        j.join()


# ----------------------------------------------------------------------------------------- set-up, capture


def sh(*args: str, check: bool = True) -> None:
    subprocess.run(args, check=check, stdout=subprocess.DEVNULL, stderr=None if check else subprocess.DEVNULL)


def _in_ns(ns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *args]


def set_up_link() -> None:
    tear_down_link()
    for ns in (CLIENT_NS, ROUTER_NS, SERVER_NS):
        sh("ip", "netns", "add", ns)
        sh(*_in_ns(ns, "ip", "link", "set", "lo", "up"))
    for (ns, dev, ip, mac), (peer_dev, peer_ip, peer_mac) in LINKS:
        sh("ip", "link", "add", dev, "address", mac, "type", "veth", "peer", peer_dev, "address", peer_mac)
        for n, d, address in ((ns, dev, ip), (ROUTER_NS, peer_dev, peer_ip)):
            sh("ip", "link", "set", d, "netns", n)
            sh(*_in_ns(n, "ip", "addr", "add", f"{address}/24", "dev", d))
            # no offloads: every segment crosses the link, and is captured, as one frame
            offloads = ("tso", "gso", "gro", "tx", "rx")
            sh(*_in_ns(n, "ethtool", "-K", d, *(x for o in offloads for x in (o, "off"))))
            sh(*_in_ns(n, "ip", "link", "set", d, "up"))
        sh(*_in_ns(ns, "ip", "route", "add", "default", "via", peer_ip))
    sh(*_in_ns(ROUTER_NS, "sysctl", "-qw", "net.ipv4.ip_forward=1"))
    # random loss of 1 % of what the client sends, then a 20 Mbit/s bottleneck with a short queue
    nft = f"""table inet lossy {{
        chain forward {{
            type filter hook forward priority 0; policy accept;
            iifname "{ROUTER_CLIENT_IF}" numgen random mod 100 < {LOSS_PERCENT} drop
        }}
    }}"""
    subprocess.run(_in_ns(ROUTER_NS, "nft", "-f", "-"), input=nft, text=True, check=True)
    sh(*_in_ns(ROUTER_NS, "tc", "qdisc", "add", "dev", ROUTER_SERVER_IF, "root", "tbf", "rate", "20mbit",
               "burst", "16kb", "limit", "96kb"))  # fmt: skip


def tear_down_link() -> None:
    for ns in (CLIENT_NS, ROUTER_NS, SERVER_NS):
        sh("ip", "netns", "del", ns, check=False)


def record(pcap: Path, seed: int) -> None:
    """Run the scenario between the namespaces while tcpdump writes the server's side to `pcap`."""
    me = [sys.executable, str(Path(__file__).resolve())]
    set_up_link()
    try:
        server = subprocess.Popen(_in_ns(SERVER_NS, *me, "_server", str(seed)), stdout=subprocess.PIPE)
        assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
        tcpdump = ["tcpdump", "-i", SERVER_IF, "-s", str(SNAPLEN), "-U", "-Z", "root", "-w", str(pcap)]
        dump = subprocess.Popen(_in_ns(SERVER_NS, *tcpdump), stderr=subprocess.PIPE, text=True)
        assert dump.stderr is not None and "listening on" in dump.stderr.readline()
        time.sleep(0.3)
        subprocess.run(_in_ns(CLIENT_NS, *me, "_client", str(seed)), check=True)
        time.sleep(0.5)
        dump.send_signal(signal.SIGINT)
        print(dump.communicate(timeout=10)[1].strip())
        server.kill()
        server.wait()
    finally:
        tear_down_link()


def pcap_record_ends(data: bytes) -> list[int]:
    """Offsets just after each record of a little-endian classic pcap."""
    ends, pos = [], 24
    while pos + 16 <= len(data):
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
        ends.append(pos)
    return ends


def write_variants(out: Path) -> None:
    """pcapng, nanosecond pcap and truncated copies of netns_mixed_s128.pcap."""
    src = out / "netns_mixed_s128.pcap"
    subprocess.run(["editcap", "-F", "pcapng", str(src), str(out / "netns_mixed.pcapng")], check=True)
    subprocess.run(["editcap", "-F", "nsecpcap", str(src), str(out / "netns_mixed_nsec.pcap")], check=True)
    data = src.read_bytes()
    ends = pcap_record_ends(data)
    boundary = max(e for e in ends if e <= len(data) * TRUNCATE_AT)
    # ends inside the next record: its 16-byte header and 20 bytes of its data
    (out / "netns_mixed_truncated.pcap").write_bytes(data[: boundary + 16 + 20])


HOSTILE_NAMES = [
    ("<img src=x onerror=window.__xss_fired=1>.example.com", 3),
    ('"><svg onload=window.__xss_fired=2>.example.com', 0),
    ("</script><script>window.__xss_fired=3</script>.example.com", 2),
]


def write_hostile_names(path: Path) -> None:
    """Three DNS queries whose names are HTML/JS, answered NXDOMAIN, NOERROR (one A record), SERVFAIL.

    One frame every 10 ms.
    """
    from scapy.layers.dns import DNS, DNSQR, DNSRR
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    packets, t = [], 1_796_000_000
    for i, (name, rcode) in enumerate(HOSTILE_NAMES):
        q = DNS(id=0x2A00 + i, rd=1, qd=DNSQR(qname=name))
        query = Ether() / IP(src="10.77.0.1", dst="10.77.0.53") / UDP(sport=41000 + i, dport=53) / q
        an = DNSRR(rrname=name, rdata="10.77.9.9", ttl=60) if rcode == 0 else None
        reply = DNS(id=q.id, qr=1, rd=1, ra=1, rcode=rcode, qd=q.qd, an=an)
        answer = Ether() / IP(src="10.77.0.53", dst="10.77.0.1") / UDP(sport=53, dport=41000 + i) / reply
        packets += [query, answer]
    for i, pkt in enumerate(packets):
        pkt.time = t + i * 0.01
    wrpcap(str(path), packets)


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] in ("_server", "_client"):
        (run_server if sys.argv[1] == "_server" else run_client)(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=11, help="seed of the scenario's random choices")
    args = parser.parse_args()
    for tool in ("ip", "tc", "nft", "ethtool", "tcpdump", "editcap"):
        if shutil.which(tool) is None:
            sys.exit(f"make_captures: {tool} is not installed")
    args.out.mkdir(parents=True, exist_ok=True)
    record(args.out / "netns_mixed_s128.pcap", args.seed)
    write_variants(args.out)
    write_hostile_names(args.out / "dns_hostile_names.pcap")
    for p in sorted(args.out.glob("*.pcap*")):
        print(f"{p.name:32} {p.stat().st_size:>10,} bytes")


if __name__ == "__main__":
    main()
