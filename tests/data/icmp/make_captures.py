"""Regenerate tests/data/icmp/icmp_netns.pcap from real Linux traffic between network namespaces.

Run as root, by hand (the capture is committed; tests never run this):

    sudo .venv/bin/python tests/data/icmp/make_captures.py   # then: python3 tests/data/icmp/make_oracle.py

Needs iproute2 (ip), nftables, ethtool and tcpdump.

Three namespaces: the client 10.78.1.1 / fd78:1::1 (pa-ic-cli), a router forwarding IPv4 and IPv6
(pa-ic-rtr, no default route) and the server 10.78.2.1 / fd78:2::1 (pa-ic-srv). The router-server link has
an MTU of 1280. ICMP rate limits are off in every namespace. tcpdump records the client's interface
(snaplen 256) while the client, in order:
- pings the server (echo request/reply, IPv4 and IPv6);
- pings and sends UDP to 10.78.2.99, which does not exist on the server's link: host unreachable (ARP);
- sends UDP to 10.99.0.1 (no route on the router: net unreachable), to 10.78.3.1 (a `prohibit` route:
  administratively prohibited) and to the server's closed port 9 (port unreachable), and to fd78:99::1 and
  fd78:2::1 port 9 (ICMPv6 no route / port unreachable);
- sends UDP with TTL / hop limit 1 to the server (time exceeded from the router, traceroute-like);
- sends 1400-byte UDP datagrams with DF to the server: fragmentation needed, next-hop MTU 1280; the same
  over IPv6: packet too big, MTU 1280;
- pings 10.78.5.1, which the router routes back through the client's own link: ICMP redirect;
- uploads 96 kB to port 5003, whose reader (4 kB receive buffer) reads 4 kB every 0.25 s: zero windows;
- connects to port 5006 (dropped silently by the router): SYN retransmissions with the kernel's RTO;
- uploads 20 kB to port 5007, where the router drops the client's packets over 600 bytes without any ICMP
  (a PMTU black hole: small segments pass, large ones are retransmitted without progress);
- keeps a connection to port 5005 idle for 3 s between two exchanges, then leaves it open past the end
  of the capture (never closed), as the black-hole upload is.
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
CLIENT_NS, ROUTER_NS, SERVER_NS = "pa-ic-cli", "pa-ic-rtr", "pa-ic-srv"
CLIENT_IF, ROUTER_CLIENT_IF, ROUTER_SERVER_IF, SERVER_IF = "pa-ic-c", "pa-ic-rc", "pa-ic-rs", "pa-ic-s"
CLIENT_IP, SERVER_IP = "10.78.1.1", "10.78.2.1"
CLIENT_IP6, SERVER_IP6 = "fd78:1::1", "fd78:2::1"
SMALL_MTU = 1280
SLOW_PORT, IDLE_PORT, DROP_PORT, HOLE_PORT, CLOSED_PORT = 5003, 5005, 5006, 5007, 9
SNAPLEN = 256
IDLE_S = 3.0
SLOW_BYTES = 96 << 10
# <linux/in.h>, <linux/in6.h> (not all in Python's socket module)
IP_MTU_DISCOVER, IPV6_MTU_DISCOVER, PMTUDISC_PROBE = 10, 23, 3
HOLE_LIMIT = 600  # IP length over which the router drops the black-hole connection's segments


# ----------------------------------------------------------------------------------------- server side


def _serve_tcp(port: int, handler, rcvbuf: int | None = None, v6: bool = False) -> None:
    lsock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # inherited by accepted sockets
    lsock.bind((SERVER_IP6 if v6 else SERVER_IP, port))
    lsock.listen(16)

    def loop() -> None:
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def _slow_reader(conn: socket.socket) -> None:
    with conn:
        while conn.recv(4096):
            time.sleep(0.25)


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data.upper())


def _black_hole(conn: socket.socket) -> None:
    """Answers the client's short header line, then reads whatever gets through."""
    with conn:
        conn.recv(64)
        conn.sendall(b"200 go ahead\r\n")
        while conn.recv(4096):
            pass


def run_server() -> None:
    _serve_tcp(SLOW_PORT, _slow_reader, rcvbuf=4096)
    _serve_tcp(IDLE_PORT, _echo)
    _serve_tcp(HOLE_PORT, _black_hole)
    print("ready", flush=True)
    time.sleep(3600)


# ----------------------------------------------------------------------------------------- client side


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping(dst: str, count: int, ident: int, interval: float = 0.2, v6: bool = False) -> None:
    """ICMP / ICMPv6 echo requests from a raw socket (the kernel fills the ICMPv6 checksum)."""
    if v6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    with s:
        for seq in range(1, count + 1):
            payload = b"pcap-analyzer icmp test " + bytes(range(32))
            kind = 128 if v6 else 8
            header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
            if not v6:
                header = struct.pack("!BBHHH", kind, 0, _checksum(header + payload), ident, seq)
            s.sendto(header + payload, (dst, 0))
            time.sleep(interval)


def udp(
    dst: str,
    port: int,
    count: int,
    size: int = 32,
    ttl: int | None = None,
    df: bool = False,
    interval: float = 0.1,
) -> None:
    v6 = ":" in dst
    with socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM) as s:
        if ttl is not None:
            if v6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
            else:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        if df:  # DF set, and the kernel must not fragment locally either: the router answers
            if v6:
                s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, PMTUDISC_PROBE)
            else:
                s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, PMTUDISC_PROBE)
        for _ in range(count):
            try:
                s.sendto(b"u" * size, (dst, port))
            except OSError:
                pass
            time.sleep(interval)


def slow_upload() -> None:
    with socket.create_connection((SERVER_IP, SLOW_PORT)) as s:
        s.sendall(b"s" * SLOW_BYTES)
        s.shutdown(socket.SHUT_WR)
        s.recv(16)


def dropped_connect() -> None:
    try:
        socket.create_connection((SERVER_IP, DROP_PORT), timeout=7.5).close()
    except OSError:
        pass


def black_hole_upload(keep: list[socket.socket]) -> None:
    s = socket.create_connection((SERVER_IP, HOLE_PORT))
    s.sendall(b"PUT /data\r\n")
    s.recv(64)
    s.sendall(b"y" * 20_000)  # full-size segments: dropped by the router, retransmitted in vain
    keep.append(s)  # never closed while the capture runs


def idle_connection(keep: list[socket.socket]) -> None:
    s = socket.create_connection((SERVER_IP, IDLE_PORT))
    s.sendall(b"hello\n")
    s.recv(64)
    time.sleep(IDLE_S)
    s.sendall(b"again\n")
    s.recv(64)
    keep.append(s)


def run_client() -> None:
    """The whole scenario; holds the connections that must stay open until stdin closes."""
    keep: list[socket.socket] = []
    ping(SERVER_IP, 3, 0x1C01)
    ping(SERVER_IP6, 3, 0x1C02, v6=True)
    threads = [
        threading.Thread(target=slow_upload),
        threading.Thread(target=dropped_connect),
        threading.Thread(target=idle_connection, args=(keep,)),
        threading.Thread(target=black_hole_upload, args=(keep,)),
        threading.Thread(target=ping, args=("10.78.2.99", 4, 0x1C03, 0.5)),
    ]
    for t in threads:
        t.start()
    udp("10.78.2.99", 7, 2)
    udp("10.99.0.1", 7, 3)
    udp("10.78.3.1", 7, 3)
    udp(SERVER_IP, CLOSED_PORT, 4)
    udp("fd78:99::1", 7, 3)
    udp(SERVER_IP6, CLOSED_PORT, 3)
    udp(SERVER_IP, 33434, 3, ttl=1)
    udp(SERVER_IP6, 33434, 3, ttl=1)
    udp(SERVER_IP, CLOSED_PORT, 2, size=1400, df=True)
    udp(SERVER_IP6, CLOSED_PORT, 2, size=1400, df=True)
    ping("10.78.5.1", 3, 0x1C04)
    for t in threads:
        t.join()
    time.sleep(1.0)
    print("done", flush=True)
    sys.stdin.read()  # the connections in `keep` stay open until the recorder is done


# ----------------------------------------------------------------------------------------- set-up, capture


def sh(*args: str, check: bool = True) -> None:
    subprocess.run(args, check=check, stdout=subprocess.DEVNULL, stderr=None if check else subprocess.DEVNULL)


def _in_ns(ns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *args]


def set_up() -> None:
    tear_down()
    for ns in (CLIENT_NS, ROUTER_NS, SERVER_NS):
        sh("ip", "netns", "add", ns)
        sh(*_in_ns(ns, "ip", "link", "set", "lo", "up"))
        for knob in (
            "net.ipv4.icmp_ratelimit=0",
            "net.ipv6.icmp.ratelimit=0",
            "net.ipv4.icmp_msgs_per_sec=100000",
        ):
            sh(*_in_ns(ns, "sysctl", "-qw", knob))
    links = [
        (CLIENT_NS, CLIENT_IF, "10.78.1.1/24", "fd78:1::1/64",
         ROUTER_CLIENT_IF, "10.78.1.254/24", "fd78:1::fe/64", "02:00:0a:4e:01:01", "02:00:0a:4e:01:fe", 1500),
        (SERVER_NS, SERVER_IF, "10.78.2.1/24", "fd78:2::1/64",
         ROUTER_SERVER_IF, "10.78.2.254/24", "fd78:2::fe/64", "02:00:0a:4e:02:01", "02:00:0a:4e:02:fe",
         SMALL_MTU),
    ]  # fmt: skip
    for ns, dev, ip4, ip6, peer, peer4, peer6, mac, peer_mac, mtu in links:
        sh("ip", "link", "add", dev, "address", mac, "type", "veth", "peer", peer, "address", peer_mac)
        for n, d, a4, a6 in ((ns, dev, ip4, ip6), (ROUTER_NS, peer, peer4, peer6)):
            sh("ip", "link", "set", d, "netns", n)
            sh(*_in_ns(n, "ip", "addr", "add", a4, "dev", d))
            sh(*_in_ns(n, "ip", "-6", "addr", "add", a6, "dev", d, "nodad"))
            offloads = ("tso", "gso", "gro", "tx", "rx")
            sh(*_in_ns(n, "ethtool", "-K", d, *(x for o in offloads for x in (o, "off"))))
            sh(*_in_ns(n, "ip", "link", "set", d, "mtu", str(mtu), "up"))
        sh(*_in_ns(ns, "ip", "route", "add", "default", "via", peer4.split("/")[0]))
        sh(*_in_ns(ns, "ip", "-6", "route", "add", "default", "via", peer6.split("/")[0]))
    sh(*_in_ns(ROUTER_NS, "sysctl", "-qw", "net.ipv4.ip_forward=1"))
    sh(*_in_ns(ROUTER_NS, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"))
    sh(*_in_ns(ROUTER_NS, "ip", "route", "add", "prohibit", "10.78.3.0/24"))
    # back out of the link it came in on: the router redirects the client to itself
    sh(*_in_ns(ROUTER_NS, "ip", "route", "add", "10.78.5.0/24", "via", CLIENT_IP))
    nft = f"""table inet pa_icmp {{
        chain forward {{
            type filter hook forward priority 0; policy accept;
            tcp dport {DROP_PORT} drop
            ip saddr {CLIENT_IP} tcp dport {HOLE_PORT} ip length > {HOLE_LIMIT} drop
        }}
    }}"""
    subprocess.run(_in_ns(ROUTER_NS, "nft", "-f", "-"), input=nft, text=True, check=True)
    time.sleep(1.0)  # IPv6 link-local addresses and routes settle


def tear_down() -> None:
    for ns in (CLIENT_NS, ROUTER_NS, SERVER_NS):
        sh("ip", "netns", "del", ns, check=False)


def record(pcap: Path) -> None:
    me = [sys.executable, str(Path(__file__).resolve())]
    set_up()
    try:
        server = subprocess.Popen(_in_ns(SERVER_NS, *me, "_server"), stdout=subprocess.PIPE)
        assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
        tcpdump = ["tcpdump", "-i", CLIENT_IF, "-s", str(SNAPLEN), "-U", "-Z", "root", "-w", str(pcap)]
        dump = subprocess.Popen(_in_ns(CLIENT_NS, *tcpdump), stderr=subprocess.PIPE, text=True)
        assert dump.stderr is not None and "listening on" in dump.stderr.readline()
        time.sleep(0.3)
        client = subprocess.Popen(
            _in_ns(CLIENT_NS, *me, "_client"), stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert client.stdout is not None and client.stdout.readline().strip() == b"done"
        dump.send_signal(signal.SIGINT)
        print(dump.communicate(timeout=10)[1].strip())
        client.kill()
        server.kill()
        client.wait()
        server.wait()
    finally:
        tear_down()


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] in ("_server", "_client"):
        (run_server if sys.argv[1] == "_server" else run_client)()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: %(default)s)")
    args = parser.parse_args()
    for tool in ("ip", "nft", "ethtool", "tcpdump"):
        if shutil.which(tool) is None:
            sys.exit(f"make_captures: {tool} is not installed")
    args.out.mkdir(parents=True, exist_ok=True)
    record(args.out / "icmp_netns.pcap")


if __name__ == "__main__":
    main()
