"""Protocol distribution: a tshark-like hierarchy (link / encapsulations / network / transport / DNS), packets
and bytes."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.encap import layer_names
from pcap_analyzer.decode.packets import L3, Undecoded
from pcap_analyzer.report.model import ProtocolShare

_LINKS = {
    1: "Ethernet",
    113: "Linux SLL",
    276: "Linux SLL2",
    0: "Null (loopback)",
    108: "Loopback",
    12: "Raw IP",
    14: "Raw IP",
    101: "Raw IP",
    228: "Raw IPv4",
    229: "Raw IPv6",
}
_L3 = {L3.NONE: "Undecoded", L3.IPV4: "IPv4", L3.IPV6: "IPv6", L3.ARP: "ARP", L3.OTHER: "Other L3"}
# transport class per IP protocol: 0 none / other, 1 TCP, 2 UDP, 3 ICMP, 4 ICMPv6, 5 fragment (no header)
_L4_CLASS = np.zeros(256, np.int64)
for _p, _c in ((6, 1), (17, 2), (1, 3), (58, 4)):
    _L4_CLASS[_p] = _c
_L4_NAMES = ["Other", "TCP", "UDP", "ICMP", "ICMPv6", "Fragment"]


class ProtocolAnalyzer:
    """Counts each packet once per level it reaches, e.g. "Ethernet", "Ethernet/IPv4",
    "Ethernet/IPv4/UDP", "Ethernet/IPv4/UDP/DNS" (so a parent's count includes its children's).

    Encapsulations are levels of their own, in order, as tshark's `-z io,phs` shows them: a TCP segment in
    GRE counts under "Ethernet/IPv4", "Ethernet/IPv4/GRE", "Ethernet/IPv4/GRE/IPv4" and
    "Ethernet/IPv4/GRE/IPv4/TCP" (its inner headers are not counted again under "Ethernet/IPv4/TCP")."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, ...], list[int]] = {}  # path of level names -> [packets, bytes]

    def update(self, batch: PacketBatch) -> None:
        """Add one chunk (vectorized: one code per packet, one bincount per encapsulation stack seen)."""
        p = batch.packets
        n = len(p)
        if n == 0:
            return
        l3 = np.minimum(p.l3, 4).astype(np.int64)  # L3 values 0..4
        is_ip = (l3 == L3.IPV4) | (l3 == L3.IPV6)
        l4 = np.where(is_ip, _L4_CLASS[p.ip_proto], -1)
        fragment = (p.undecoded == Undecoded.NON_FIRST_FRAGMENT) | (p.undecoded == Undecoded.FIRST_FRAGMENT)
        l4 = np.where(is_ip & fragment, 5, l4)
        dns = p.is_dns.astype(np.int64)
        link = p.linktype.astype(np.int64)
        code = ((link * 5 + l3) * 7 + (l4 + 1)) * 2 + dns
        if not p.encap.any():  # the usual case: no VLAN tag, tunnel, ... in the chunk
            self._add(code, p.wirelen, 0)
            return
        stacks, inv = np.unique(p.encap, return_inverse=True)
        inv = inv.ravel()
        for k, stack in enumerate(stacks.tolist()):
            rows = inv == k
            self._add(code[rows], p.wirelen[rows], stack)

    def _add(self, code: np.ndarray, wirelen: np.ndarray, stack: int) -> None:
        """Count packets of one encapsulation stack by their (link, l3, l4, dns) code."""
        lo, hi = int(code.min()), int(code.max())
        if hi - lo < 4096:  # one link type in the chunk (the usual case): a plain bincount
            pk = np.bincount(code - lo)
            u = np.flatnonzero(pk)
            by = np.bincount(code - lo, weights=wirelen)[u]
            pk, u = pk[u], u + lo
        else:
            u, inv = np.unique(code, return_inverse=True)
            pk = np.bincount(inv.ravel())
            by = np.bincount(inv.ravel(), weights=wirelen)
        for c, np_, nb in zip(u.tolist(), pk.tolist(), by.tolist(), strict=True):
            for path in _paths(c, stack):
                e = self._counts.setdefault(path, [0, 0])
                e[0] += int(np_)
                e[1] += int(nb)

    def finalize(self) -> list[ProtocolShare]:
        """Every level seen, in hierarchy order (parents before children), larger first among siblings."""

        def sort_key(path: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
            return tuple((-self._counts[path[: i + 1]][1], path[i]) for i in range(len(path)))

        return [
            ProtocolShare(protocol="/".join(k), packets=v[0], bytes=v[1])
            for k, v in sorted(self._counts.items(), key=lambda kv: sort_key(kv[0]))
        ]


def _paths(code: int, stack: int) -> list[tuple[str, ...]]:
    dns, code = code % 2, code // 2
    l4, code = code % 7 - 1, code // 7
    l3, link = code % 5, code // 5
    parts = [_LINKS.get(link, f"Link type {link}")]
    if l3 != L3.NONE:
        parts.extend(layer_names(stack))
        parts.append(_L3[L3(l3)])
        if l4 >= 0:
            parts.append(_L4_NAMES[l4])
            if dns:
                parts.append("DNS")
    return [tuple(parts[: i + 1]) for i in range(len(parts))]


def stack_path(linktype: int, stack: int, l3: int) -> str:
    """The link, the encapsulation layers `stack` (a `PacketTable.encap` value) and the network layer `l3`
    as one hierarchy path, e.g. "Ethernet/802.1Q/IPv4/GRE/IPv4"."""
    return "/".join([_LINKS.get(linktype, f"Link type {linktype}"), *layer_names(stack), _L3[L3(min(l3, 4))]])
