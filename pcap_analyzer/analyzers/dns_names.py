"""DNS names and code names for the DNS analyzer: rcode/qtype names and the first question's QNAME."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RCODES: dict[int, str] = {  # RFC 1035 4.1.1, RFC 2136, RFC 8490 (IANA DNS RCODEs)
    0: "NOERROR",
    1: "FORMERR",
    2: "SERVFAIL",
    3: "NXDOMAIN",
    4: "NOTIMP",
    5: "REFUSED",
    6: "YXDOMAIN",
    7: "YXRRSET",
    8: "NXRRSET",
    9: "NOTAUTH",
    10: "NOTZONE",
    11: "DSOTYPENI",
}
QTYPES: dict[int, str] = {  # IANA DNS RR TYPEs
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    35: "NAPTR",
    41: "OPT",
    43: "DS",
    46: "RRSIG",
    48: "DNSKEY",
    64: "SVCB",
    65: "HTTPS",
    255: "ANY",
    257: "CAA",
}
_HEADER = 12  # the first QNAME follows the 12-byte DNS header
_MAX_JUMPS = 64
_MAX_NAME = 255  # RFC 1035 2.3.4
_WINDOW = 2048  # bytes of the message read for the name (pointers beyond it are not followed)
_C_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}


def qtype_name(qtype: int) -> str:
    """Mnemonic of a QTYPE, "TYPE<n>" when unknown (RFC 3597)."""
    return QTYPES.get(qtype, f"TYPE{qtype}")


def escape_label_bytes(raw: bytes) -> str:
    """Label bytes as text, as Wireshark's format_text shows them: valid UTF-8 kept, control characters
    as C escapes or \\ooo octal, invalid bytes as U+FFFD; so a name can never inject control characters."""
    if raw.isascii():
        text = raw.decode("ascii")
        if text.isprintable():
            return text
    out = []
    for ch in raw.decode("utf-8", errors="surrogateescape"):
        c = ord(ch)
        if 0xDC80 <= c <= 0xDCFF:  # an undecodable byte
            out.append("\ufffd")
        elif c < 0x20 or 0x7F <= c <= 0x9F:
            out.append(_C_ESCAPES.get(c, f"\\{c:03o}" if c < 0x100 else ch))
        else:
            out.append(ch)
    return "".join(out)


def qname_at(buf: npt.NDArray[np.uint8], qname_offset: int) -> str:
    """The first question's name (offset from PacketTable.dns_qname_offset), "" when absent.

    Reads a window of `_WINDOW` bytes from the message start. Follows compression pointers (bounded),
    stops at the end of the window or past 255 bytes; the root name is "<Root>" as in tshark.
    """
    if qname_offset <= 0:
        return ""
    msg_start = qname_offset - _HEADER
    data = bytes(buf[max(msg_start, 0) : msg_start + _WINDOW])
    labels: list[str] = []
    pos, jumps, length = _HEADER, 0, 0
    while 0 <= pos < len(data):
        n = data[pos]
        if n == 0:
            break
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(data) or jumps >= _MAX_JUMPS:
                break
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            jumps += 1
            continue
        if n & 0xC0:
            break  # reserved label types
        length += 1 + n
        if length > _MAX_NAME:
            break
        labels.append(escape_label_bytes(data[pos + 1 : pos + 1 + n]))
        pos += 1 + n
    return ".".join(labels) if labels else "<Root>"
