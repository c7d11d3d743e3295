"""Ports and services: traffic per server port (TCP/UDP), named from the IANA registry shipped as data."""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from pcap_analyzer.flows.model import FlowTable
from pcap_analyzer.report.model_exports import ServiceStat


@functools.cache
def iana_services() -> dict[tuple[str, int], str]:
    """{(protocol, port): IANA service name}, from data/iana-services.tsv (scripts/make_iana_services.py)."""
    text = resources.files("pcap_analyzer").joinpath("data/iana-services.tsv").read_text(encoding="utf-8")
    out: dict[tuple[str, int], str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        port, tcp, *udp = line.split("\t")
        udp_name = udp[0] if udp else tcp
        if tcp:
            out[("tcp", int(port))] = tcp
        if udp_name:
            out[("udp", int(port))] = udp_name
    return out


def service_names(ports: set[int]) -> dict[tuple[str, int], str]:
    """`iana_services()` for these ports only: lines of other ports are skipped unparsed (the report lists
    a few ports; parsing the whole table took ~9 ms of each run)."""
    wanted = {str(p) for p in ports}
    text = resources.files("pcap_analyzer").joinpath("data/iana-services.tsv").read_text(encoding="utf-8")
    out: dict[tuple[str, int], str] = {}
    for line in text.splitlines():
        port, _, names = line.partition("\t")
        if port not in wanted:
            continue
        tcp, tab, udp = names.partition("\t")
        udp = udp if tab else tcp  # no UDP column: the same name for both
        if tcp:
            out[("tcp", int(port))] = tcp
        if udp:
            out[("udp", int(port))] = udp
    return out


def service_filter(protocol: str, port: int) -> str:
    """Wireshark display filter of one server port's conversations (either direction)."""
    return f"{protocol}.port == {port}"


def services(flows: FlowTable, top_n: int = 20) -> list[ServiceStat]:
    """Top `top_n` server ports by bytes, with connections, packets and bytes per port.

    Args:
        flows: the final flow table (one row per conversation).
        top_n: how many services to keep.

    Returns:
        ServiceStat rows, most bytes first (ties: more connections, then lower port).

    Example:
        >>> services(tracker.table(final=True))[0].service
        'http'
    """
    proto = flows.ip_proto
    keep = np.flatnonzero((proto == 6) | (proto == 17))
    if keep.size == 0 or top_n <= 0:
        return []
    # one bin per (protocol, port): 0..65535 TCP, 65536.. UDP; counting is linear, no sort of the flows
    key = (proto[keep] == 17).astype(np.int64) << 16 | flows.b_port[keep].astype(np.int64)
    n = 2 << 16
    conns = np.bincount(key, minlength=n)
    to_srv = np.bincount(key, weights=flows.bytes_ab[keep], minlength=n).astype(np.int64)
    to_cli = np.bincount(key, weights=flows.bytes_ba[keep], minlength=n).astype(np.int64)
    pk = flows.packets_ab[keep] + flows.packets_ba[keep]
    packets = np.bincount(key, weights=pk, minlength=n).astype(np.int64)
    total = to_srv + to_cli
    uniq = np.flatnonzero(conns)
    order = uniq[np.lexsort((uniq & 0xFFFF, -conns[uniq], -total[uniq]))[:top_n]]
    names = service_names({i & 0xFFFF for i in order.tolist()})
    out = []
    for i in order.tolist():
        name, port = ("udp" if i >> 16 else "tcp"), i & 0xFFFF
        out.append(
            ServiceStat(
                protocol=name,
                port=port,
                service=names.get((name, port)),
                connections=int(conns[i]),
                packets=int(packets[i]),
                bytes=int(total[i]),
                bytes_to_server=int(to_srv[i]),
                bytes_to_client=int(to_cli[i]),
                filter=service_filter(name, port),
            )
        )
    return out
