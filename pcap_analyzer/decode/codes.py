"""Plain-int copies of the PacketTable enums and bits, so Numba kernels see compile-time integer constants."""

from __future__ import annotations

from pcap_analyzer.decode.packets import L3, Undecoded

L3_NONE = int(L3.NONE)
L3_IPV4 = int(L3.IPV4)
L3_IPV6 = int(L3.IPV6)
L3_ARP = int(L3.ARP)
L3_OTHER = int(L3.OTHER)

OK = int(Undecoded.OK)
UNSUPPORTED_LINKTYPE = int(Undecoded.UNSUPPORTED_LINKTYPE)
TRUNCATED_LINK = int(Undecoded.TRUNCATED_LINK)
NON_IP = int(Undecoded.NON_IP)
TRUNCATED_IP = int(Undecoded.TRUNCATED_IP)
BAD_IP_HEADER = int(Undecoded.BAD_IP_HEADER)
TRUNCATED_L4 = int(Undecoded.TRUNCATED_L4)
BAD_L4_HEADER = int(Undecoded.BAD_L4_HEADER)
NON_FIRST_FRAGMENT = int(Undecoded.NON_FIRST_FRAGMENT)
OTHER_L4 = int(Undecoded.OTHER_L4)
