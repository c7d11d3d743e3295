"""LINKTYPE_* values (tcpdump.org/linktypes.html) and their names, for reports and decoder dispatch."""

from __future__ import annotations

NULL = 0  # BSD loopback: 4-byte address family in host byte order
ETHERNET = 1
IEEE802_5 = 6
PPP = 9
FDDI = 10
DLT_RAW_12 = 12  # raw IP on some BSDs (DLT_RAW = 12)
DLT_RAW_14 = 14  # raw IP on OpenBSD (DLT_RAW = 14)
PPP_HDLC = 50
PPP_ETHER = 51
RAW = 101  # raw IPv4 or IPv6, version nibble decides
IEEE802_11 = 105
LOOP = 108  # OpenBSD loopback: 4-byte address family in network byte order
LINUX_SLL = 113
IEEE802_11_RADIOTAP = 127
USB_LINUX = 189
IPV4 = 228
IPV6 = 229
NFLOG = 239
NETLINK = 253
LINUX_SLL2 = 276

NAMES: dict[int, str] = {
    NULL: "NULL",
    ETHERNET: "ETHERNET",
    IEEE802_5: "IEEE802_5",
    PPP: "PPP",
    FDDI: "FDDI",
    DLT_RAW_12: "RAW",
    DLT_RAW_14: "RAW",
    PPP_HDLC: "PPP_HDLC",
    PPP_ETHER: "PPP_ETHER",
    RAW: "RAW",
    IEEE802_11: "IEEE802_11",
    LOOP: "LOOP",
    LINUX_SLL: "LINUX_SLL",
    IEEE802_11_RADIOTAP: "IEEE802_11_RADIOTAP",
    USB_LINUX: "USB_LINUX",
    IPV4: "IPV4",
    IPV6: "IPV6",
    NFLOG: "NFLOG",
    NETLINK: "NETLINK",
    LINUX_SLL2: "LINUX_SLL2",
}

#: Link types carrying bare IP packets (the version nibble tells IPv4 from IPv6).
RAW_IP = frozenset({DLT_RAW_12, DLT_RAW_14, RAW, IPV4, IPV6})


def linktype_name(linktype: int) -> str:
    """Name of a LINKTYPE value, e.g. `linktype_name(1) == "ETHERNET"`; unknown ones as "LINKTYPE_<n>"."""
    return NAMES.get(linktype, f"LINKTYPE_{linktype}")
