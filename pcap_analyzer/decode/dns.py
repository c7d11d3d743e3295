"""DNS message header and first question (RFC 1035 4.1), plus a safe decoder for (compressed) names."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.decode.fields import Header, be16
from pcap_analyzer.jit import kernel

DNS = Header(
    "dns",
    ("id", 2),
    ("flags", 2),  # QR, opcode, AA, TC, RD, RA, Z, AD, CD, RCODE
    ("count.queries", 2),
    ("count.answers", 2),
    ("count.auth_rr", 2),
    ("count.add_rr", 2),
)
DNS_ID = DNS.offset("id")
DNS_FLAGS = DNS.offset("flags")
DNS_QDCOUNT = DNS.offset("count.queries")
DNS_ANCOUNT = DNS.offset("count.answers")
QUESTION_TAIL = Header("dns.qry", ("type", 2), ("class", 2))  # follows the QNAME

DNS_PORT = 53  # RFC 1035
MDNS_PORT = 5353  # RFC 6762
LLMNR_PORT = 5355  # RFC 4795 (DNS message format)
TCP_LENGTH_PREFIX = 2  # DNS over TCP: 2-byte message length first (RFC 1035 4.2.2)
LABEL_POINTER = 0xC0  # compression pointer marker (RFC 1035 4.1.4)
MAX_NAME_LENGTH = 255  # RFC 1035 2.3.4
MAX_POINTERS = 32


DNS_LEN = DNS.size


@kernel
def decode_dns(
    buf: np.ndarray,
    p: int,
    end: int,
    i: int,
    is_dns: np.ndarray,
    dns_id: np.ndarray,
    dns_flags: np.ndarray,
    dns_qdcount: np.ndarray,
    dns_ancount: np.ndarray,
    dns_qtype: np.ndarray,
    dns_qname_offset: np.ndarray,
) -> None:
    """DNS header at buf[p] (captured bytes end at `end`) into row i; nothing when the header is cut."""
    if p + DNS_LEN > end:
        return
    is_dns[i] = True
    dns_id[i] = be16(buf, p + DNS_ID)
    dns_flags[i] = be16(buf, p + DNS_FLAGS)
    qd = be16(buf, p + DNS_QDCOUNT)
    dns_qdcount[i] = qd
    dns_ancount[i] = be16(buf, p + DNS_ANCOUNT)
    q = p + DNS_LEN
    if qd == 0 or q >= end:
        return
    dns_qname_offset[i] = q
    # Skip the QNAME to reach QTYPE (the first name is almost never compressed, but may be).
    for _ in range(128):
        if q >= end:
            return
        n = np.int64(buf[q])
        if n == 0:
            q += 1
            break
        if n & LABEL_POINTER == LABEL_POINTER:
            q += 2
            break
        if n & LABEL_POINTER:
            return  # reserved label type
        q += 1 + n
    else:
        return
    if q + 2 <= end:
        dns_qtype[i] = be16(buf, q)


_C_ESCAPES = {0x07: "\\a", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0C: "\\f", 0x0D: "\\r"}


def _escape_label(label: bytes) -> str:
    """Label text as tshark 4.0 prints it: UTF-8 (invalid bytes as U+FFFD), control characters as C escapes
    (\\t, \\n, ...) or 3-digit octal (\\033, \\177); dots and backslashes in a label are kept."""
    out = []
    for ch in label.decode("utf-8", "replace"):
        o = ord(ch)
        if o < 0x20 or o == 0x7F:
            out.append(_C_ESCAPES.get(o, f"\\{o:03o}"))
        else:
            out.append(ch)
    return "".join(out)


def read_dns_name(buf: np.ndarray | bytes, offset: int, msg_start: int) -> str:
    """Decode the (possibly compressed) domain name at `buf[offset]` of the DNS message at `msg_start`.

    Compression pointers are relative to `msg_start`. Pointer loops, forward jumps beyond the data and names
    longer than 255 bytes stop decoding; the labels read so far are returned (with "..." when cut).
    The root name is "<Root>", as tshark shows it.

    Example:
        >>> read_dns_name(b"\\x03www\\x07example\\x03com\\x00", 0, 0)
        'www.example.com'
    """
    data = bytes(buf) if not isinstance(buf, bytes) else buf
    labels: list[str] = []
    pos = offset
    length = 0
    jumps = 0
    complete = False
    while 0 <= pos < len(data):
        n = data[pos]
        if n == 0:
            complete = True
            break
        if n & LABEL_POINTER == LABEL_POINTER:
            if pos + 1 >= len(data) or jumps >= MAX_POINTERS:
                break
            pos = msg_start + (((n & 0x3F) << 8) | data[pos + 1])
            jumps += 1
            continue
        if n & LABEL_POINTER or pos + 1 + n > len(data):
            break
        length += n + 1
        if length > MAX_NAME_LENGTH:
            break
        labels.append(_escape_label(data[pos + 1 : pos + 1 + n]))
        pos += 1 + n
    if not labels:
        return "<Root>" if complete else "..."
    return ".".join(labels) + ("" if complete else "...")
