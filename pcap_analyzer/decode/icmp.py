"""ICMP (RFC 792) and ICMPv6 (RFC 4443) headers: type and code are what the columns keep."""

from __future__ import annotations

from pcap_analyzer.decode.fields import Header

ICMP = Header("icmp", ("type", 1), ("code", 1), ("checksum", 2), ("rest_of_header", 4))
ICMP_TYPE = ICMP.offset("type")
ICMP_CODE = ICMP.offset("code")
ICMP_MIN = ICMP.offset("rest_of_header")  # type, code and checksum must be captured
ICMP_LEN = ICMP.size
