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
DNS_NSCOUNT = DNS.offset("count.auth_rr")
DNS_ARCOUNT = DNS.offset("count.add_rr")
QUESTION_TAIL = Header("dns.qry", ("type", 2), ("class", 2))  # follows the QNAME

DNS_PORT = 53  # RFC 1035
MDNS_PORT = 5353  # RFC 6762
LLMNR_PORT = 5355  # RFC 4795 (DNS message format)
TCP_LENGTH_PREFIX = 2  # DNS over TCP: 2-byte message length first (RFC 1035 4.2.2)
LABEL_POINTER = 0xC0  # compression pointer marker (RFC 1035 4.1.4)
LABEL_EXTENDED = 0x40  # extended label type (RFC 6891 5); 0x80 is reserved
LABEL_BITSTRING = 0x41  # the binary label of RFC 2673, which tshark still reads
# RR types whose RDATA holds domain names tshark reads: NS, CNAME, PTR, MX (after its preference), SOA (two)
RR_NS, RR_CNAME, RR_SOA, RR_PTR, RR_MX = 2, 5, 6, 12, 15
MAX_NAME_LENGTH = 255  # RFC 1035 2.3.4
MAX_POINTERS = 32


DNS_LEN = DNS.size

FLAG_RESPONSE = 0x8000  # QR
FLAG_OPCODE = 0x7800
# tshark 4.0's UDP heuristic (`dissect_dns_heur`, enabled by default) takes a payload on other ports for DNS
# when: it is longer than the 12-byte header, the opcode is 0 (standard query), a query has exactly one
# question and no answer or authority record, a response at most one question, 100 answers and 10
# authority records, and either has at most 10 additional records. Nothing after the header is checked.
HEUR_MAX_ANSWERS = 100
HEUR_MAX_AUTHORITY = 10
HEUR_MAX_ADDITIONAL = 10
# UDP ports whose tshark 4.0 dissector (registered on the port, tried before any heuristic) takes DNS
# messages for its own, so tshark does not try the DNS heuristic: NTP, NBNS (137, DNS-shaped), DHCP, syslog,
# ISAKMP, CoAP, the tunnels, ... The other dissectors registered on a port reject them (SNMP, SIP, STUN, ...)
# and the heuristic runs. Measured with tshark 4.0.17, 256 queries and answers per port
# (tests/data/dns_ports/port_table.json): a few dissectors decide by the message's first bytes or length;
# those listed take most (packetbb 269, CAPWAP 5246), the others few (RADIUS, GTP, BJNP, ADwin, ...).
HEUR_CLAIMED_UDP_PORTS = np.array(
    [
        7, 13, 19, 37, 49, 67, 68, 69, 111, 123, 137, 138, 173, 213, 269, 319, 320, 389, 427, 434, 464, 496,
        500, 513, 514, 520, 521, 524, 525, 546, 547, 664, 701, 853, 854, 910, 921, 925, 1001, 1113, 1153,
        1194, 1293, 1628, 1629, 1718, 1719, 1745, 1755, 1900, 2099, 2157, 2221, 2222, 2246, 2268, 2269,
        2313, 2345, 2887, 2944, 2945, 2948, 2949, 3000, 3130, 3250, 3343, 3357, 3389, 3452, 3455, 3544,
        3567, 3671, 3784, 3785, 3804, 3863, 4305, 4306, 4307, 4341, 4342, 4500, 4551, 4555, 4569, 4729,
        4754, 4784, 4789, 4790, 4791, 4991, 5072, 5246, 5247, 5404, 5405, 5436, 5567, 5678, 5683, 5684,
        5868, 6073, 6081, 6118, 6160, 6635, 6784, 6970, 7074, 7075, 7255, 7275, 7784, 8200, 8600, 8767,
        8805, 8848, 9200, 9201, 9202, 9203, 9214, 9875, 9877, 9899, 9901, 9956, 10253, 11211, 11273, 12000,
        12001, 12002, 12003, 12004, 12220, 12222, 12223, 13400, 17220, 17500, 17755, 17756, 19132, 19948,
        19999, 23272, 24576, 24577, 25826, 26000, 27500, 27910, 27950, 27951, 27952, 27953, 27960, 27961,
        27962, 27963, 32000, 32512, 34962, 34980, 37008, 41170, 44818, 47000, 54328,
    ],
    np.int64,
)  # fmt: skip
HSRP_PORTS = (1985, 2029)  # HSRP (v2 IPv6) takes what is sent to these ports, not what comes from them
OPENSAFETY_PORT = 8755  # openSAFETY takes what comes from this port, not what is sent to it


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
    message_end: int,
) -> None:
    """DNS header at buf[p] (captured bytes end at `end`, the message at `message_end`) into row i.

    A header cut by the capture (snap length, or a cut first fragment) that still holds the id and flags is
    a DNS message with those alone, as tshark shows it (dns.flags.response is there); a message itself too
    short for the header is nothing."""
    if p + DNS_LEN > end:
        if p + DNS_FLAGS + 2 <= end < message_end:
            is_dns[i] = True
            dns_id[i] = be16(buf, p + DNS_ID)
            dns_flags[i] = be16(buf, p + DNS_FLAGS)
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


@kernel
def _name_end(buf: np.ndarray, msg: int, q: int, end: int) -> int:
    """Offset after the domain name at buf[q] of the DNS message buf[msg:end]; -1 when the name is
    malformed as tshark reads it: it runs past `end`, uses the reserved label type (10xxxxxx) or a
    compression pointer outside the message. A compression pointer's target is read too (up to 128 labels
    in all); an extended label type (01xxxxxx) ends the name after its byte ("<Unknown extended label>")."""
    after = -1
    for _ in range(128):  # at most 127 labels fit the 255 bytes of a name
        if q >= end:
            return -1
        n = np.int64(buf[q])
        if n == 0:
            return q + 1 if after < 0 else after
        kind = n & LABEL_POINTER
        if kind == LABEL_POINTER:
            if q + 2 > end:
                return -1
            target = msg + (((n & 0x3F) << 8) | np.int64(buf[q + 1]))
            if after < 0:
                after = q + 2
            if target >= end:
                return -1
            q = target
            continue
        if n == LABEL_BITSTRING:  # RFC 2673: a count of bits, then the bits
            if q + 2 > end:
                return -1
            bits = np.int64(buf[q + 1]) or 256
            q += 2 + (bits + 7) // 8
            continue
        if kind == LABEL_EXTENDED:
            return q + 1 if after < 0 else after
        if kind != 0:
            return -1
        q += 1 + n
    return after  # a pointer loop: tshark stops reading it, the message goes on


@kernel
def messages_fit(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, out: np.ndarray) -> None:
    """out[j]: whether the DNS message buf[starts[j]:ends[j]] holds every question and resource record its
    header counts (names, fixed fields, RDATA of its stated length), as tshark dissects it: on a query that
    does not (a malformed packet), tshark shows no dns.response_in even when it is answered."""
    for j in range(starts.shape[0]):
        p, end = np.int64(starts[j]), np.int64(ends[j])
        out[j] = False
        if p + DNS_LEN > end:
            continue
        q = p + DNS_LEN
        for _ in range(be16(buf, p + DNS_QDCOUNT)):
            q = _name_end(buf, p, q, end)
            if q < 0 or q + 4 > end:
                q = -1
                break
            q += 4  # type, class
        if q < 0:
            continue
        records = be16(buf, p + DNS_ANCOUNT) + be16(buf, p + DNS_NSCOUNT) + be16(buf, p + DNS_ARCOUNT)
        for _ in range(records):
            q = _name_end(buf, p, q, end)
            if q < 0 or q + 10 > end:  # type, class, TTL, RDLENGTH
                q = -1
                break
            rtype, rdata = be16(buf, q), q + 10
            q = rdata + be16(buf, q + 8)
            if q > end or not _rdata_names_fit(buf, p, rtype, rdata, end):
                q = -1
                break
        out[j] = q >= 0


@kernel
def _rdata_names_fit(buf: np.ndarray, msg: int, rtype: int, rdata: int, end: int) -> bool:
    """Whether the domain names in the RDATA of an NS, CNAME, PTR, MX or SOA record read within the
    message, as tshark reads them (other types: True)."""
    if rtype == RR_NS or rtype == RR_CNAME or rtype == RR_PTR:
        return _name_end(buf, msg, rdata, end) >= 0
    if rtype == RR_MX:
        return _name_end(buf, msg, rdata + 2, end) >= 0
    if rtype == RR_SOA:
        q = _name_end(buf, msg, rdata, end)
        return q >= 0 and _name_end(buf, msg, q, end) >= 0
    return True


@kernel
def _claimed_udp_port(port: int) -> bool:
    """Whether `port` is in HEUR_CLAIMED_UDP_PORTS (binary search)."""
    lo, hi = 0, HEUR_CLAIMED_UDP_PORTS.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if HEUR_CLAIMED_UDP_PORTS[mid] < port:
            lo = mid + 1
        else:
            hi = mid
    return lo < HEUR_CLAIMED_UDP_PORTS.shape[0] and HEUR_CLAIMED_UDP_PORTS[lo] == port


@kernel
def looks_like_udp_dns(buf: np.ndarray, p: int, end: int, length: int, sport: int, dport: int) -> bool:
    """tshark 4.0's DNS heuristic on a UDP payload at buf[p] of `length` bytes (captured up to `end`) between
    ports that are not DNS's: the header checks first (what nearly every non-DNS payload fails), then
    whether a dissector on either port would have taken the payload before the heuristic ran."""
    if length <= DNS_LEN or p + DNS_LEN > end:
        return False
    flags = be16(buf, p + DNS_FLAGS)
    if flags & FLAG_OPCODE:
        return False
    qd, an, ns = be16(buf, p + DNS_QDCOUNT), be16(buf, p + DNS_ANCOUNT), be16(buf, p + DNS_NSCOUNT)
    if flags & FLAG_RESPONSE:
        if qd > 1 or an > HEUR_MAX_ANSWERS or ns > HEUR_MAX_AUTHORITY:
            return False
    elif qd != 1 or an != 0 or ns != 0:
        return False
    if be16(buf, p + DNS_ARCOUNT) > HEUR_MAX_ADDITIONAL:
        return False
    # tshark tries the dissector of the lower port, then of the higher one; port 0 is never tried.
    if dport == HSRP_PORTS[0] or dport == HSRP_PORTS[1] or sport == OPENSAFETY_PORT:
        return False
    return not _claimed_udp_port(sport) and not _claimed_udp_port(dport)


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
