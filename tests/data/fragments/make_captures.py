"""Regenerate the IP fragmentation captures of tests/data/fragments from real Linux traffic.

Run as root, by hand (the captures are committed; tests never run this):

    sudo .venv/bin/python tests/data/fragments/make_captures.py
    python3 tests/data/fragments/make_oracle.py

Needs iproute2 (ip), tcpdump and scapy (in .venv).

`fragments_netns.pcap`: three namespaces, the client 10.79.1.1 / fd79:1::1 (link MTU 1500), a router, and the
server 10.79.2.1 / fd79:2::1 behind a 1280-byte MTU link. tcpdump records the server's interface while:
- the client sends 3000-byte UDP datagrams to the server's echo port over IPv4 (fragmented by the client at
  1500, each fragment fragmented again by the router at 1280) and over IPv6 (the first draws a packet-too-big
  from the router, the next are fragmented by the client at 1280); the server echoes them (fragmented by the
  server at 1280);
- the client asks the server's DNS responder (a small UDP server on port 53 answering TXT queries with
  records of 200 bytes each, EDNS buffer 4096) for names whose answers are larger than the MTU, over IPv4
  and IPv6, and a few names with short answers;
- the client uploads 20 kB over TCP with DF off (IP_PMTUDISC_DONT) to a server that advertises an MSS of
  1460 (route advmss): the router fragments every full-size segment.

`fragments_reordered.pcap`: the IPv4 and IPv6 datagrams of the netns capture, reassembled by scapy and cut
again with scapy's fragment() / fragment6() in orders the kernel does not produce: last fragment first,
reversed, interleaved datagrams, a duplicated fragment, overlapping fragments (the overlapping bytes differ),
and a datagram whose middle fragment is missing (it never completes).
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
CLIENT_NS, ROUTER_NS, SERVER_NS = "pa-fr-cli", "pa-fr-rtr", "pa-fr-srv"
CLIENT_IF, ROUTER_CLIENT_IF, ROUTER_SERVER_IF, SERVER_IF = "pa-fr-c", "pa-fr-rc", "pa-fr-rs", "pa-fr-s"
CLIENT_IP, SERVER_IP = "10.79.1.1", "10.79.2.1"
CLIENT_IP6, SERVER_IP6 = "fd79:1::1", "fd79:2::1"
SMALL_MTU = 1280
ECHO_PORT, DNS_PORT, UPLOAD_PORT = 7001, 53, 7002
UDP_SIZE = 3000
UPLOAD_BYTES = 20_000
TXT_RECORD = 200
IP_MTU_DISCOVER, PMTUDISC_DONT = 10, 0  # <linux/in.h>

# ----------------------------------------------------------------------------------------- server side


def _udp_echo(v6: bool) -> None:
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((SERVER_IP6 if v6 else SERVER_IP, ECHO_PORT))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)


def _name(msg: bytes, p: int) -> tuple[str, int]:
    labels = []
    while msg[p]:
        labels.append(msg[p + 1 : p + 1 + msg[p]].decode())
        p += 1 + msg[p]
    return ".".join(labels), p + 1


def _dns_answer(query: bytes) -> bytes:
    """TXT answers: `big<N>.example` gets N records of TXT_RECORD bytes, other names one short record."""
    ident, _flags, qd = struct.unpack("!HHH", query[:6])
    name, p = _name(query, 12)
    question = query[12 : p + 4]
    count = int(name[3:].split(".")[0]) if name.startswith("big") else 1
    text = b"x" * (TXT_RECORD - 1) if name.startswith("big") else b"short"
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60, 1 + len(text)) + bytes([len(text)]) + text
    opt = b"\x00" + struct.pack("!HHIH", 41, 4096, 0, 0)
    header = struct.pack("!HHHHHH", ident, 0x8180, qd, count, 0, 1)
    return header + question + rr * count + opt


def _dns(v6: bool) -> None:
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((SERVER_IP6 if v6 else SERVER_IP, DNS_PORT))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(_dns_answer(data), peer)


def _sink(conn: socket.socket) -> None:
    with conn:
        while conn.recv(65536):
            pass
        conn.sendall(b"done\n")


def _tcp_server() -> None:
    lsock = socket.socket(socket.AF_INET)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((SERVER_IP, UPLOAD_PORT))
    lsock.listen(4)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=_sink, args=(conn,), daemon=True).start()


def run_server() -> None:
    for target, args in ((_udp_echo, (False,)), (_udp_echo, (True,)), (_dns, (False,)), (_dns, (True,))):
        threading.Thread(target=target, args=args, daemon=True).start()
    threading.Thread(target=_tcp_server, daemon=True).start()
    time.sleep(0.5)
    print("ready", flush=True)
    time.sleep(3600)


# ----------------------------------------------------------------------------------------- client side


def _query(ident: int, name: str) -> bytes:
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    opt = b"\x00" + struct.pack("!HHIH", 41, 4096, 0, 0)  # EDNS0, 4096-byte UDP payload
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 1) + qname + struct.pack("!HH", 16, 1) + opt


def udp_echo(dst: str, count: int) -> None:
    v6 = ":" in dst
    with socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        for k in range(count):
            s.sendto(bytes([65 + k]) * UDP_SIZE, (dst, ECHO_PORT))
            try:
                s.recv(65535)
            except OSError:
                pass  # the datagram that drew a packet-too-big
            time.sleep(0.1)


def dns(dst: str, names: list[str], first_id: int) -> None:
    v6 = ":" in dst
    with socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        for k, name in enumerate(names):
            s.sendto(_query(first_id + k, name), (dst, DNS_PORT))
            try:
                s.recv(65535)
            except OSError:
                pass
            time.sleep(0.05)


def upload() -> None:
    s = socket.socket(socket.AF_INET)
    s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, PMTUDISC_DONT)  # DF off: the router may fragment
    with s:
        s.connect((SERVER_IP, UPLOAD_PORT))
        s.sendall(b"u" * UPLOAD_BYTES)
        s.shutdown(socket.SHUT_WR)
        s.recv(16)


def run_client() -> None:
    udp_echo(SERVER_IP, 3)
    udp_echo(SERVER_IP6, 4)
    names = ["big8.example", "short1.example", "big12.example", "big20.example", "short2.example"]
    dns(SERVER_IP, names, 0x4100)
    dns(SERVER_IP6, names, 0x6100)
    upload()
    time.sleep(0.5)
    print("done", flush=True)


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
    links = [
        (CLIENT_NS, CLIENT_IF, "10.79.1.1/24", "fd79:1::1/64",
         ROUTER_CLIENT_IF, "10.79.1.254/24", "fd79:1::fe/64", "02:00:0a:4f:01:01", "02:00:0a:4f:01:fe", 1500),
        (SERVER_NS, SERVER_IF, "10.79.2.1/24", "fd79:2::1/64",
         ROUTER_SERVER_IF, "10.79.2.254/24", "fd79:2::fe/64", "02:00:0a:4f:02:01", "02:00:0a:4f:02:fe",
         SMALL_MTU),
    ]  # fmt: skip
    for ns, dev, ip4, ip6, peer, peer4, peer6, mac, peer_mac, mtu in links:
        sh("ip", "link", "add", dev, "address", mac, "type", "veth", "peer", peer, "address", peer_mac)
        for n, d, a4, a6 in ((ns, dev, ip4, ip6), (ROUTER_NS, peer, peer4, peer6)):
            sh("ip", "link", "set", d, "netns", n)
            sh(*_in_ns(n, "ip", "addr", "add", a4, "dev", d))
            sh(*_in_ns(n, "ip", "-6", "addr", "add", a6, "dev", d, "nodad"))
            sh(*_in_ns(n, "ip", "link", "set", d, "mtu", str(mtu), "up"))
        sh(*_in_ns(ns, "ip", "route", "add", "default", "via", peer4.split("/")[0]))
        sh(*_in_ns(ns, "ip", "-6", "route", "add", "default", "via", peer6.split("/")[0]))
    # The server advertises an MSS of 1460 although its link carries 1280 bytes: the client's full-size
    # segments (DF off) must be fragmented by the router.
    sh(*_in_ns(SERVER_NS, "ip", "route", "change", "default", "via", "10.79.2.254", "advmss", "1460"))
    sh(*_in_ns(ROUTER_NS, "sysctl", "-qw", "net.ipv4.ip_forward=1"))
    sh(*_in_ns(ROUTER_NS, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"))
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
        tcpdump = ["tcpdump", "-i", SERVER_IF, "-U", "-Z", "root", "-w", str(pcap)]
        dump = subprocess.Popen(_in_ns(SERVER_NS, *tcpdump), stderr=subprocess.PIPE, text=True)
        assert dump.stderr is not None and "listening on" in dump.stderr.readline()
        time.sleep(0.3)
        client = subprocess.Popen(_in_ns(CLIENT_NS, *me, "_client"), stdout=subprocess.PIPE)
        assert client.stdout is not None and client.stdout.readline().strip() == b"done"
        client.wait()
        dump.send_signal(signal.SIGINT)
        print(dump.communicate(timeout=10)[1].strip())
        server.kill()
        server.wait()
    finally:
        tear_down()


def reorder(src: Path, dst: Path) -> None:
    """Datagrams of `src`, reassembled and cut again in orders the kernel does not produce (see above)."""
    from scapy.layers.inet import IP, UDP, defragment, fragment
    from scapy.layers.inet6 import IPv6ExtHdrFragment, fragment6
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import rdpcap, wrpcap

    pkts = rdpcap(str(src))
    whole = [p for p in defragment([p for p in pkts if IP in p]) if IP in p and len(p[IP]) > 600]
    echo = [p for p in whole if p[IP].proto == 17 and ECHO_PORT in (p[UDP].sport, p[UDP].dport)]
    answers = [p for p in whole if p[IP].proto == 17 and p[UDP].sport == DNS_PORT]
    segments = [p for p in whole if p[IP].proto == 6]
    v4 = [echo[0], answers[0], segments[0], echo[1], answers[1], segments[1]]
    whole6 = _defragment6([p for p in pkts if IPv6ExtHdrFragment in p])
    answers6 = [p for p in whole6 if bytes(p[Raw])[:2] == DNS_PORT.to_bytes(2, "big")]
    echo6 = [p for p in whole6 if p not in answers6]
    v6 = [echo6[0], answers6[0], echo6[1]]
    out = []

    def eth(ip: object) -> Ether:
        return Ether(src="02:00:0a:4f:02:fe", dst="02:00:0a:4f:02:01") / ip

    a, b, c, d, e, f = (fragment(IP(bytes(p[IP])), fragsize=512) for p in v4)
    out += [eth(x) for x in reversed(a)]  # last fragment first: the first fragment completes it
    out += [eth(x) for pair in zip(b, c, strict=False) for x in pair]  # two datagrams interleaved
    out += [eth(x) for x in b[len(c) :] + c[len(b) :]]
    out += [eth(d[0]), eth(d[1]), eth(d[1])] + [eth(x) for x in d[2:]]  # a duplicated fragment
    over = IP(bytes(e[1]))
    over.frag, over[Raw].load = over.frag - 2, b"o" * len(over[Raw].load)  # overlaps e[0] by 16 bytes
    out += [eth(e[0]), eth(over)] + [eth(x) for x in e[1:]]  # overlapping: the first bytes win
    out += [eth(x) for x in f[:1] + f[2:]]  # the middle fragment is missing: never completes
    for k, whole in enumerate(v6):
        pieces = fragment6(whole, 512)
        out += [eth(x) for x in (pieces[1:] + pieces[:1] if k == 0 else pieces[::-1])]
    for k, p in enumerate(out):
        p.time = 1_700_000_000 + k * 0.001
    wrpcap(str(dst), out)


def _defragment6(frags: list[object]) -> list[object]:
    """The complete IPv6 datagrams of `frags`, each as IPv6 / fragment header / its whole payload (Raw)."""
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment
    from scapy.packet import Raw

    groups: dict[tuple[str, str, int], list[object]] = {}
    for p in frags:
        groups.setdefault((p[IPv6].src, p[IPv6].dst, p[IPv6ExtHdrFragment].id), []).append(p)
    whole = []
    for (src, dst, ident), parts in groups.items():
        parts.sort(key=lambda p: p[IPv6ExtHdrFragment].offset)
        if parts[-1][IPv6ExtHdrFragment].m or parts[0][IPv6ExtHdrFragment].offset:
            continue
        data = b"".join(bytes(p[IPv6ExtHdrFragment].payload) for p in parts)
        head = IPv6(src=src, dst=dst, hlim=parts[0][IPv6].hlim)
        whole.append(head / IPv6ExtHdrFragment(id=ident, nh=parts[0][IPv6ExtHdrFragment].nh) / Raw(data))
    return whole


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] in ("_server", "_client"):
        (run_server if sys.argv[1] == "_server" else run_client)()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: %(default)s)")
    args = parser.parse_args()
    for tool in ("ip", "tcpdump"):
        if shutil.which(tool) is None:
            sys.exit(f"make_captures: {tool} is not installed")
    args.out.mkdir(parents=True, exist_ok=True)
    record(args.out / "fragments_netns.pcap")
    reorder(args.out / "fragments_netns.pcap", args.out / "fragments_reordered.pcap")


if __name__ == "__main__":
    main()
