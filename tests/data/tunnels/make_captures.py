"""Captures of real TCP and DNS-like UDP traffic through tunnels between two network namespaces.

Run by hand as root (tests never run it): `python tests/data/tunnels/make_captures.py [KIND ...]`.

Two namespaces (tun_a, tun_b) are joined by a veth (underlay 192.168.77.0/24 and fd77::/64). For each kind a
tunnel joins them (inner 10.9.0.0/24 or fd09::/64), a server in tun_b and a client in tun_a exchange three
short TCP connections with data, one connection to a closed port (answered by RST) and three DNS-format
queries over UDP, while tcpdump records the underlay veth (snaplen 256) into `<kind>.pcap`.

The kernel this was made on (6.18, a minimal build) has VXLAN but none of GRE, IP-in-IP, SIT, ip6tnl,
Geneve, 802.1Q or MPLS routing, and no pppd: `ip link add ... type gre` answers "Unknown device type". So
only the vxlan kinds are kernel tunnels; for the others a small relay (the `relay` sub-command, one per
namespace) does what the kernel's tunnel driver would: it reads the inner packets the kernel's TCP/IP stack
sends to a TUN (layer 3) or TAP (layer 2) device, adds the tunnel header, and sends them on the underlay
through a raw IP socket (the kernel adds the outer IP header), a UDP socket (Geneve, GTP-U) or a packet
socket (MPLS, PPPoE session frames); it does the reverse on receive. The inner traffic, its timing and the
outer IP headers are real; only the tunnel header bytes come from this file.
"""

from __future__ import annotations

import fcntl
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NS_A, NS_B = "tun_a", "tun_b"
MAC_A, MAC_B = "02:00:00:77:00:01", "02:00:00:77:00:02"
UNDER4 = ("192.168.77.1", "192.168.77.2")
UNDER6 = ("fd77::1", "fd77::2")
INNER4 = ("10.9.0.1", "10.9.0.2")
INNER6 = ("fd09::1", "fd09::2")
TCP_PORT, CLOSED_PORT, DNS_PORT = 8080, 8081, 53
SNAPLEN = 256
TUN_MTU = 1400

# kind -> (device: "tun" | "tap" | kernel link arguments, underlay family, inner family)
KINDS: dict[str, tuple[str, int, int]] = {
    "vxlan": ("kernel", 4, 4),
    "vxlan6": ("kernel", 6, 6),
    "gre": ("tun", 4, 4),
    "gretap": ("tap", 4, 4),
    "erspan2": ("tap", 4, 4),  # ERSPAN type II (`erspan_ver 1` in iproute2)
    "erspan3": ("tap", 4, 4),  # ERSPAN type III (`erspan_ver 2`)
    "ip6gre": ("tun", 6, 4),
    "ipip": ("tun", 4, 4),
    "sit": ("tun", 4, 6),  # 6in4
    "ip6tnl_4in6": ("tun", 6, 4),
    "ip6tnl_6in6": ("tun", 6, 6),
    "geneve": ("tap", 4, 4),
    "gtpu": ("tun", 4, 4),
    "mpls": ("tun", 0, 4),  # packet socket: MPLS label stack in Ethernet, no outer IP
    "pppoe": ("tun", 0, 6),  # packet socket: PPPoE session frames, no outer IP
}

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_TAP, IFF_NO_PI = 0x0001, 0x0002, 0x1000
GRE_KEY, GRE_SEQ = 0x2000, 0x1000
ETH_P_MPLS, ETH_P_PPPOE = 0x8847, 0x8864


def sh(*cmd: str, check: bool = True) -> None:
    subprocess.run(cmd, check=check)


def ns(name: str, *cmd: str, check: bool = True) -> None:
    sh("ip", "netns", "exec", name, *cmd, check=check)


# ---- the relay: a user-space tunnel endpoint ----


def _mac(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.split(":"))


def _ethertype(inner: bytes) -> int:
    return 0x86DD if inner[0] >> 4 == 6 else 0x0800


class Relay:
    """One tunnel endpoint: `wrap` adds the tunnel header to an inner packet, `unwrap` removes it."""

    def __init__(self, kind: str, side: int) -> None:
        self.kind = kind
        self.side = side
        dev, under, _ = KINDS[kind]
        self.seq = 0
        self.fd = os.open("/dev/net/tun", os.O_RDWR)
        flags = (IFF_TUN if dev == "tun" else IFF_TAP) | IFF_NO_PI
        fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH", b"tnl0", flags))
        self.family = socket.AF_INET6 if under == 6 else socket.AF_INET
        peers = UNDER6 if under == 6 else UNDER4
        self.peer = peers[1 - side]
        if kind in ("geneve", "gtpu"):
            port = 6081 if kind == "geneve" else 2152
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((peers[side], port))
            self.dest: tuple = (self.peer, port)
        elif kind in ("mpls", "pppoe"):
            etype = ETH_P_MPLS if kind == "mpls" else ETH_P_PPPOE
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(etype))
            self.sock.bind(("veth", etype))
            src, dst = (MAC_A, MAC_B) if side == 0 else (MAC_B, MAC_A)
            self.eth = _mac(dst) + _mac(src) + struct.pack("!H", etype)
            self.dest = ()
        elif kind in ("ipip", "sit", "ip6tnl_4in6", "ip6tnl_6in6"):
            # The outer protocol follows the inner packet (4: IPv4, 41: IPv6), as ip6tnl's `mode any` does;
            # the devices also carry the inner stack's own IPv6 link-local packets.
            self.sock = socket.socket(self.family, socket.SOCK_RAW, 4)
            self.sock6 = socket.socket(self.family, socket.SOCK_RAW, 41)
            self.dest = (self.peer, 0)
        else:
            self.sock = socket.socket(self.family, socket.SOCK_RAW, 47)
            self.dest = (self.peer, 0)
        self.socks = [self.sock] + ([self.sock6] if hasattr(self, "sock6") else [])

    def _gre(self, ptype: int, body: bytes, seq: bool) -> bytes:
        self.seq += 1
        if seq:
            return struct.pack("!HHII", GRE_KEY | GRE_SEQ, ptype, 42, self.seq) + body
        return struct.pack("!HH", 0, ptype) + body

    def wrap(self, inner: bytes) -> bytes:
        k = self.kind
        if k in ("gre", "ip6gre"):
            return self._gre(_ethertype(inner), inner, seq=True)
        if k == "gretap":
            return self._gre(0x6558, inner, seq=False)
        if k == "erspan2":  # version 1 (type II), VLAN 0, session 100, index 0
            return self._gre(0x88BE, struct.pack("!HHI", 0x1000, 100, 0) + inner, seq=True)
        if k == "erspan3":  # version 2 (type III), session 100, timestamp, no subheader
            hdr = struct.pack("!HHII", 0x2000, 100, int(time.time() * 1e6) & 0xFFFFFFFF, 0)
            return self._gre(0x22EB, hdr + inner, seq=True)
        if k == "geneve":
            return struct.pack("!BBHI", 0, 0, 0x6558, 7 << 8) + inner
        if k == "gtpu":
            return struct.pack("!BBHI", 0x30, 0xFF, len(inner), 9) + inner
        if k == "mpls":
            labels = struct.pack("!II", (100 << 12) | 64, (200 << 12) | 0x100 | 64)  # bottom of stack on 200
            return self.eth + labels + inner
        if k == "pppoe":
            ppp = 0x0057 if inner[0] >> 4 == 6 else 0x0021
            return self.eth + struct.pack("!BBHHH", 0x11, 0, 7, len(inner) + 2, ppp) + inner
        return inner  # IP in IP: the raw socket adds the outer header

    def unwrap(self, data: bytes) -> bytes:
        k = self.kind
        if self.family == socket.AF_INET and k not in ("geneve", "gtpu", "mpls", "pppoe"):
            data = data[(data[0] & 0x0F) * 4 :]  # raw IPv4 sockets receive the outer header
        if k in ("gre", "ip6gre", "gretap", "erspan2", "erspan3"):
            flags = struct.unpack("!H", data[:2])[0]
            off = 4 + (4 if flags & GRE_KEY else 0) + (4 if flags & GRE_SEQ else 0)
            off += {"erspan2": 8, "erspan3": 12}.get(k, 0)
            return data[off:]
        if k in ("geneve", "gtpu"):
            return data[8:]
        if k == "mpls":
            return data[14 + 8 :]
        if k == "pppoe":
            return data[14 + 8 :]
        return data

    def run(self) -> None:
        while True:
            ready, _, _ = select.select([self.fd, *self.socks], [], [])
            if self.fd in ready:
                inner = os.read(self.fd, 65535)
                out = self.sock6 if len(self.socks) == 2 and inner[0] >> 4 == 6 else self.sock
                if self.dest:
                    out.sendto(self.wrap(inner), self.dest)
                else:
                    out.send(self.wrap(inner))
            for sock in self.socks:
                if sock not in ready:
                    continue
                data, addr = sock.recvfrom(65535)
                if self.kind in ("mpls", "pppoe") and data[6:12] == self.eth[6:12]:
                    continue  # our own frame
                try:
                    os.write(self.fd, self.unwrap(data))
                except OSError:  # the device is not up yet: dropped, as the kernel would
                    pass


# ---- the traffic ----


def _dns_query(qid: int, name: str) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)


def _dns_answer(query: bytes) -> bytes:
    head = struct.pack("!HHHHHH", struct.unpack("!H", query[:2])[0], 0x8180, 1, 1, 0, 0)
    answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([192, 0, 2, 7])
    return head + query[12:] + answer


def serve(addr: str) -> None:
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    tcp = socket.socket(family, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((addr, TCP_PORT))
    tcp.listen(8)
    udp = socket.socket(family, socket.SOCK_DGRAM)
    udp.bind((addr, DNS_PORT))

    def dns() -> None:
        while True:
            q, peer = udp.recvfrom(2048)
            udp.sendto(_dns_answer(q), peer)

    threading.Thread(target=dns, daemon=True).start()
    while True:
        conn, _ = tcp.accept()
        with conn:
            request = conn.recv(4096)
            conn.sendall(b"R" * (1000 + len(request)))


def client(addr: str) -> None:
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    for n in range(3):
        with socket.create_connection((addr, TCP_PORT), timeout=5) as s:
            s.sendall(b"Q" * (200 + n))
            got = 0
            while got < 1200 + n:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += len(chunk)
        time.sleep(0.05)
    try:
        socket.create_connection((addr, CLOSED_PORT), timeout=5).close()
    except ConnectionRefusedError:
        pass
    udp = socket.socket(family, socket.SOCK_DGRAM)
    udp.settimeout(5)
    for n in range(3):
        udp.sendto(_dns_query(0x1000 + n, f"host{n}.example"), (addr, DNS_PORT))
        udp.recvfrom(2048)
        time.sleep(0.05)


# ---- orchestration ----


def _setup_underlay() -> None:
    for name in (NS_A, NS_B):
        if Path("/run/netns", name).exists():
            sh("ip", "netns", "del", name)
        sh("ip", "netns", "add", name)
    sh("ip", "link", "add", "veth", "netns", NS_A, "address", MAC_A, "type", "veth",
       "peer", "name", "veth", "netns", NS_B, "address", MAC_B)
    for side, name in enumerate((NS_A, NS_B)):
        ns(name, "ip", "link", "set", "lo", "up")
        ns(name, "ip", "link", "set", "veth", "up")
        ns(name, "ip", "addr", "add", f"{UNDER4[side]}/24", "dev", "veth")
        ns(name, "ip", "-6", "addr", "add", f"{UNDER6[side]}/64", "dev", "veth", "nodad")
        ns(name, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")


def _tunnel(kind: str) -> list[subprocess.Popen]:
    dev, under, inner = KINDS[kind]
    relays = []
    for side, name in enumerate((NS_A, NS_B)):
        if dev == "kernel":
            u = UNDER6 if under == 6 else UNDER4
            ns(name, "ip", "link", "add", "tnl0", "type", "vxlan", "id", "42", "local", u[side],
               "remote", u[1 - side], "dstport", "4789", "dev", "veth")
        else:
            ns(name, "ip", "tuntap", "add", "mode", dev, "name", "tnl0")
            relays.append(subprocess.Popen(["ip", "netns", "exec", name, sys.executable, __file__, "relay",
                                            kind, str(side)]))
    time.sleep(0.5)  # the relays listen before the first inner packet
    for side, name in enumerate((NS_A, NS_B)):
        ns(name, "ip", "link", "set", "tnl0", "mtu", str(TUN_MTU), "up")
        if inner == 6:
            ns(name, "ip", "-6", "addr", "add", f"{INNER6[side]}/64", "dev", "tnl0", "nodad")
        else:
            ns(name, "ip", "addr", "add", f"{INNER4[side]}/24", "dev", "tnl0")
    time.sleep(1.0)
    return relays


def capture(kind: str) -> Path:
    _setup_underlay()
    _, _, inner = KINDS[kind]
    out = HERE / f"{kind}.pcap"
    dump = subprocess.Popen(["ip", "netns", "exec", NS_B, "tcpdump", "-i", "veth", "-s", str(SNAPLEN), "-U",
                             "--immediate-mode", "-w", str(out)])
    time.sleep(1.0)
    relays = _tunnel(kind)
    addr = INNER6[1] if inner == 6 else INNER4[1]
    server = subprocess.Popen(["ip", "netns", "exec", NS_B, sys.executable, __file__, "serve", addr])
    time.sleep(0.5)
    try:
        ns(NS_A, sys.executable, __file__, "client", addr)
    finally:
        time.sleep(0.5)
        for p in (server, *relays, dump):
            p.terminate()
            p.wait()
        for name in (NS_A, NS_B):
            sh("ip", "netns", "del", name)
    return out


def main(argv: list[str]) -> None:
    if argv and argv[0] == "relay":
        Relay(argv[1], int(argv[2])).run()
    elif argv and argv[0] == "serve":
        serve(argv[1])
    elif argv and argv[0] == "client":
        client(argv[1])
    else:
        for kind in argv or list(KINDS):
            print(kind, capture(kind))


if __name__ == "__main__":
    main(sys.argv[1:])
