"""Names of ICMP (RFC 792 and successors) and ICMPv6 (RFC 4443, 4861, 3810) types and codes, as in the IANA
registries; `message_name` builds the `icmp.messages` keys."""

from __future__ import annotations

import functools

# type -> (name, {code: name}); a type without code names is shown alone when its code is 0
ICMP: dict[int, tuple[str, dict[int, str]]] = {
    0: ("Echo reply", {}),
    3: ("Destination unreachable", {
        0: "Net unreachable", 1: "Host unreachable", 2: "Protocol unreachable", 3: "Port unreachable",
        4: "Fragmentation needed", 5: "Source route failed", 6: "Destination network unknown",
        7: "Destination host unknown", 8: "Source host isolated", 9: "Network administratively prohibited",
        10: "Host administratively prohibited", 11: "Network unreachable for TOS",
        12: "Host unreachable for TOS", 13: "Communication administratively prohibited",
        14: "Host precedence violation", 15: "Precedence cutoff in effect",
    }),
    4: ("Source quench", {}),
    5: ("Redirect", {
        0: "Redirect for network", 1: "Redirect for host", 2: "Redirect for TOS and network",
        3: "Redirect for TOS and host",
    }),
    8: ("Echo request", {}),
    9: ("Router advertisement", {}),
    10: ("Router solicitation", {}),
    11: ("Time exceeded", {0: "TTL exceeded in transit", 1: "Fragment reassembly time exceeded"}),
    12: ("Parameter problem", {
        0: "Pointer indicates the error", 1: "Missing a required option", 2: "Bad length",
    }),
    13: ("Timestamp request", {}),
    14: ("Timestamp reply", {}),
    17: ("Address mask request", {}),
    18: ("Address mask reply", {}),
    42: ("Extended echo request", {}),
    43: ("Extended echo reply", {}),
}  # fmt: skip

ICMPV6: dict[int, tuple[str, dict[int, str]]] = {
    1: ("Destination unreachable", {
        0: "No route to destination", 1: "Administratively prohibited", 2: "Beyond scope of source address",
        3: "Address unreachable", 4: "Port unreachable", 5: "Source address failed ingress/egress policy",
        6: "Reject route to destination",
    }),
    2: ("Packet too big", {}),
    3: ("Time exceeded", {0: "Hop limit exceeded in transit", 1: "Fragment reassembly time exceeded"}),
    4: ("Parameter problem", {
        0: "Erroneous header field", 1: "Unrecognized next header", 2: "Unrecognized IPv6 option",
    }),
    128: ("Echo request", {}),
    129: ("Echo reply", {}),
    130: ("Multicast listener query", {}),
    131: ("Multicast listener report", {}),
    132: ("Multicast listener done", {}),
    133: ("Router solicitation", {}),
    134: ("Router advertisement", {}),
    135: ("Neighbor solicitation", {}),
    136: ("Neighbor advertisement", {}),
    137: ("Redirect", {}),
    143: ("Multicast listener report v2", {}),
}  # fmt: skip


@functools.cache
def message_name(v6: bool, icmp_type: int, code: int) -> str:
    """`icmp.messages` key: "Destination unreachable/Port unreachable", "Echo request", "Type 200/Code 0";
    ICMPv6 names start with "ICMPv6 "."""
    table = ICMPV6 if v6 else ICMP
    name, codes = table.get(icmp_type, (f"Type {icmp_type}", {}))
    if code in codes:
        name = f"{name}/{codes[code]}"
    elif code or icmp_type not in table:
        name = f"{name}/Code {code}"
    return f"ICMPv6 {name}" if v6 else name
