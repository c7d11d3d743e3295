"""Write oracle.json: tshark's view of the tunnel captures of this folder.

    .venv/bin/python tests/data/tunnels/make_oracle.py

Per capture: the TCP streams (tcp.stream) with their endpoints and the encapsulation stack of their first
frame (frame.protocols, named as our protocol hierarchy names levels), SYN / SYN-ACK / RST and DNS message
counts of the innermost headers, and the `-z io,phs` levels named as ours.

Left out of io,phs (a documented difference, see README.md): frames whose tunnel carries something other
than IP (ARP in VXLAN, Geneve, GRE-TEB, ERSPAN). tshark follows them into the tunnel; our decoder analyses
such a frame as its outer packet (a UDP or GRE packet of the underlay), so it is counted there.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
# tshark protocol names -> our hierarchy's level names; SKIPPED levels are passed through, any other name
# ends the path (payload dissectors, _ws.short, ...).
NAMES = {
    "eth": "Ethernet", "ip": "IPv4", "ipv6": "IPv6", "tcp": "TCP", "udp": "UDP", "dns": "DNS", "icmp": "ICMP",
    "icmpv6": "ICMPv6", "arp": "ARP", "gre": "GRE", "erspan": "ERSPAN", "vxlan": "VXLAN", "geneve": "Geneve",
    "gtp": "GTP-U", "mpls": "MPLS", "pppoes": "PPPoE", "vlan": "802.1Q", "llc": "LLC",
}
SKIPPED = {"ethertype", "ppp", "ipv6.hopopts", "ipv6.routing", "ipv6.dstopts"}
TUNNELLED_NON_IP = "(vxlan || geneve || gre || erspan) && arp"
INNER_L3 = ("IPv4", "IPv6")


def _tshark(pcap: Path, *args: str) -> str:
    return subprocess.run(["tshark", "-r", str(pcap), "-n", *args], check=True, capture_output=True,
                          text=True).stdout


def _path(protocols: list[str]) -> list[str]:
    out = []
    for name in protocols:
        if name in SKIPPED:
            continue
        if name not in NAMES or (out and out[-1] in ("ICMP", "ICMPv6")):
            break
        if name == "mpls" and out and out[-1] == "MPLS":
            continue  # tshark has a level per label; an MPLS label stack is one of our levels
        out.append(NAMES[name])
    return out


def phs(pcap: Path) -> dict[str, list[int]]:
    """`-z io,phs` as {our path: [frames, bytes]}."""
    text = _tshark(pcap, "-q", "-z", f"io,phs,!({TUNNELLED_NON_IP})")
    stack: list[str] = []
    levels: dict[str, list[int]] = {}
    for line in text.splitlines():
        if "frames:" not in line:
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name, frames, size = line.split()
        del stack[depth:]
        stack.append(name)
        path = _path(stack)
        if name == "mpls" and len(stack) > 1 and stack[-2] == "mpls":
            continue  # the inner labels' level: the same frames as the outer label's
        if len(path) == len([s for s in stack if s not in SKIPPED and s != "mpls"]) + ("mpls" in stack):
            levels["/".join(path)] = [int(frames.split(":")[1]), int(size.split(":")[1])]
    return levels


def count(pcap: Path, display_filter: str) -> int:
    return len(_tshark(pcap, "-Y", display_filter, "-T", "fields", "-e", "frame.number").split())


def streams(pcap: Path) -> dict[str, dict[str, object]]:
    """Each tcp.stream: client and server (of its first frame, innermost addresses), encapsulation."""
    out = _tshark(pcap, "-Y", "tcp", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=l",
                  "-e", "tcp.stream", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst",
                  "-e", "ipv6.dst", "-e", "tcp.dstport", "-e", "frame.protocols")
    seen: dict[str, dict[str, object]] = {}
    for line in out.splitlines():
        stream, src4, src6, sport, dst4, dst6, dport, protocols = line.split("\t")
        if stream in seen:
            continue
        path = _path(protocols.split(":"))
        last_l3 = max(i for i, level in enumerate(path) if level in INNER_L3)
        # An IPv6 inner header leaves ip.src to the outer IPv4 one (and the reverse): the innermost is the
        # family of the innermost network layer.
        inner6 = path[last_l3] == "IPv6"
        seen[stream] = {
            "client": src6 if inner6 else src4, "client_port": int(sport),
            "server": dst6 if inner6 else dst4, "server_port": int(dport),
            "encapsulation": "/".join(path[: last_l3 + 1]),
        }
    return seen


def tunnelled_non_ip(pcap: Path) -> dict[str, list[int]]:
    """The frames left out of `phs`, as {their outer path up to the tunnel: [frames, bytes]} (our decoder
    counts them there and at each parent level)."""
    out = _tshark(pcap, "-Y", TUNNELLED_NON_IP, "-T", "fields", "-E", "separator=\t", "-e", "frame.len",
                  "-e", "frame.protocols")
    levels: dict[str, list[int]] = {}
    for line in out.splitlines():
        size, protocols = line.split("\t")
        names = protocols.split(":")
        tunnel = min(i for i, n in enumerate(names) if n in ("vxlan", "geneve", "gre"))
        e = levels.setdefault("/".join(_path(names[:tunnel])), [0, 0])
        e[0] += 1
        e[1] += int(size)
    return levels


def facts(pcap: Path) -> dict[str, object]:
    """Everything the tests compare, for one capture."""
    return {
        "streams": streams(pcap),
        "syn": count(pcap, "tcp.flags.syn == 1 && tcp.flags.ack == 0"),
        "syn_ack": count(pcap, "tcp.flags.syn == 1 && tcp.flags.ack == 1"),
        "resets": count(pcap, "tcp.flags.reset == 1"),
        "dns_queries": count(pcap, "dns.flags.response == 0"),
        "dns_responses": count(pcap, "dns.flags.response == 1"),
        "phs": phs(pcap),
        "tunnelled_non_ip": tunnelled_non_ip(pcap),
    }


def main() -> None:
    captures = {p.name: facts(p) for p in sorted(HERE.glob("*.pcap"))}
    (HERE / "oracle.json").write_text(json.dumps({"captures": captures}, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
