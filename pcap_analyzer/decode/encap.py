"""Encapsulation stacks: the layers a packet crossed between its link header and its innermost network layer.

`PacketTable.encap` holds them as an ordered code, one 5-bit layer code per layer, outermost in the lowest
bits, 0 after the last: Ethernet/802.1Q/IPv4/GRE/IPv4/TCP has the layers 802.1Q, IPv4, GRE (the link type
and the innermost IPv4 are in `linktype` and `l3`). A plain Ethernet/IPv4 packet has 0, so the common path
stores nothing. Order is kept (not a bitmask) because it is what a reader needs: IPv4 in GRE in IPv6 is not
IPv6 in GRE in IPv4. Twelve layers fit; a deeper stack ends with ENCAP_MORE.
"""

from __future__ import annotations

import numpy as np

from pcap_analyzer.jit import kernel

ENCAP_VLAN = 1  # IEEE 802.1Q tag (TPID 0x8100)
ENCAP_QINQ = 2  # IEEE 802.1ad service tag (TPID 0x88A8, or the pre-standard 0x9100)
ENCAP_MPLS = 3  # an MPLS label stack, one layer whatever its depth
ENCAP_PPPOE = 4  # PPPoE session and its PPP header
ENCAP_LLC = 5  # IEEE 802.2 LLC with a SNAP header
ENCAP_IPV4 = 6  # an outer IPv4 header (a tunnel's delivery header)
ENCAP_IPV6 = 7  # an outer IPv6 header
ENCAP_GRE = 8
ENCAP_ERSPAN = 9  # types I, II and III (after GRE)
ENCAP_UDP = 10  # the UDP header of a UDP tunnel (VXLAN, Geneve, GTP-U)
ENCAP_VXLAN = 11
ENCAP_GENEVE = 12
ENCAP_GTPU = 13
ENCAP_ETHERNET = 14  # an Ethernet header inside a tunnel (transparent Ethernet bridging, VXLAN, ...)
ENCAP_FABRICPATH = 15  # Cisco FabricPath header (an Ethernet frame follows)
ENCAP_CAPWAP = 16  # CAPWAP data channel (after its UDP header)
ENCAP_WLAN = 17  # an IEEE 802.11 frame inside a tunnel (CAPWAP)
ENCAP_MORE = 31  # more layers than the code holds
LAYER_BITS = 5
LAYER_MASK = (1 << LAYER_BITS) - 1
MAX_LAYERS = 12  # 60 bits of an int64, sign bit clear

LAYER_NAMES = {
    ENCAP_VLAN: "802.1Q",
    ENCAP_QINQ: "802.1ad",
    ENCAP_MPLS: "MPLS",
    ENCAP_PPPOE: "PPPoE",
    ENCAP_LLC: "LLC",
    ENCAP_IPV4: "IPv4",
    ENCAP_IPV6: "IPv6",
    ENCAP_GRE: "GRE",
    ENCAP_ERSPAN: "ERSPAN",
    ENCAP_UDP: "UDP",
    ENCAP_VXLAN: "VXLAN",
    ENCAP_GENEVE: "Geneve",
    ENCAP_GTPU: "GTP-U",
    ENCAP_ETHERNET: "Ethernet",
    ENCAP_FABRICPATH: "FabricPath",
    ENCAP_CAPWAP: "CAPWAP",
    ENCAP_WLAN: "802.11",
    ENCAP_MORE: "...",
}


@kernel
def push_layers(stack: int, depth: int, layers: int) -> tuple[int, int]:
    """Append `layers` (an ordered code, outermost lowest) to `stack` holding `depth` layers; returns the
    new (stack, depth). The last slot becomes ENCAP_MORE when the stack is full."""
    while layers != 0:
        code = layers & LAYER_MASK
        layers >>= LAYER_BITS
        if depth < MAX_LAYERS:
            stack |= np.int64(code) << np.int64(LAYER_BITS * depth)
            depth += 1
        else:
            last = np.int64(LAYER_BITS * (MAX_LAYERS - 1))
            stack = (stack & ~(np.int64(LAYER_MASK) << last)) | (np.int64(ENCAP_MORE) << last)
    return stack, depth


def layer_names(stack: int) -> list[str]:
    """The layer names of one `PacketTable.encap` value, outermost first (e.g. ["802.1Q", "IPv4", "GRE"])."""
    names = []
    stack = int(stack)
    while stack:
        names.append(LAYER_NAMES.get(stack & LAYER_MASK, "?"))
        stack >>= LAYER_BITS
    return names
