"""UDP header (RFC 768)."""

from __future__ import annotations

from pcap_analyzer.decode.fields import Header

UDP = Header("udp", ("srcport", 2), ("dstport", 2), ("length", 2), ("checksum", 2))
UDP_SRCPORT = UDP.offset("srcport")
UDP_DSTPORT = UDP.offset("dstport")
UDP_LENGTH = UDP.offset("length")
UDP_LEN = UDP.size
