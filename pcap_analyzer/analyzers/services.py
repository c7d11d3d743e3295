"""Ports and services: traffic per server port (TCP/UDP), named from the IANA registry shipped as data."""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from pcap_analyzer.flows.model import FlowTable
from pcap_analyzer.report.model_exports import ServiceStat

_PROTOS = {6: "tcp", 17: "udp"}


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
    key = proto[keep].astype(np.int64) << 16 | flows.b_port[keep].astype(np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    inv = inv.ravel()
    n = uniq.size
    conns = np.bincount(inv, minlength=n)
    to_srv = np.bincount(inv, weights=flows.bytes_ab[keep], minlength=n).astype(np.int64)
    to_cli = np.bincount(inv, weights=flows.bytes_ba[keep], minlength=n).astype(np.int64)
    pk = flows.packets_ab[keep] + flows.packets_ba[keep]
    packets = np.bincount(inv, weights=pk, minlength=n).astype(np.int64)
    total = to_srv + to_cli
    order = np.lexsort((uniq & 0xFFFF, -conns, -total))[:top_n]
    names = iana_services()
    out = []
    for i in order.tolist():
        name, port = _PROTOS[int(uniq[i] >> 16)], int(uniq[i] & 0xFFFF)
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
