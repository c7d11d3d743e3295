"""DnsAnalyzer on DNS messages whose matching, timing and rcodes are known by construction."""

from __future__ import annotations

import struct

import numpy as np

from pcap_analyzer.analyzers.dns import DnsAnalyzer
from pcap_analyzer.analyzers.dns_names import qname_at
from pcap_analyzer.report.base import to_json
from tests.engine.analyzers.batches import batch

CLIENT, SERVER = "10.0.0.1", "10.0.0.53"


def _qname(name: bytes) -> bytes:
    return b"".join(bytes([len(lab)]) + lab for lab in name.split(b".")) + b"\0"


def _messages(spec: list[tuple[float, int, bool, int, bytes, int]], first_frame: int = 1) -> object:
    """spec rows: (time s, DNS id, is response, rcode, qname, qtype); one UDP conversation."""
    buf = b""
    rows = []
    for t, ident, resp, rcode, name, qtype in spec:
        flags = (0x8180 if resp else 0x0100) | rcode
        msg = (
            struct.pack("!6H", ident, flags, 1, 1 if resp else 0, 0, 0)
            + _qname(name)
            + struct.pack("!2H", qtype, 1)
        )
        start = len(buf) + 42  # Ethernet + IPv4 + UDP headers before the message
        buf += bytes(42) + msg
        src, dst = (SERVER, CLIENT) if resp else (CLIENT, SERVER)
        rows.append(
            {
                "t": t,
                "src": src,
                "dst": dst,
                "ip_proto": 17,
                "sport": 53 if resp else 5000,
                "dport": 5000 if resp else 53,
                "is_dns": True,
                "dns_id": ident,
                "dns_flags": flags,
                "dns_qtype": qtype,
                "dns_qname_offset": start + 12,
                "conv": 0,
                "direction": int(resp),
                "data_offset": start - 42,
            }
        )
    return batch(rows, buf, first_frame)


def test_matching_retransmissions_unanswered_and_rcodes() -> None:
    first = [
        (0.000, 1, False, 0, b"a.example", 1),
        (0.010, 1, True, 0, b"a.example", 1),
        (0.100, 2, False, 0, b"b.example", 1),
        (0.200, 3, False, 0, b"nx.example", 1),
        (0.230, 3, True, 3, b"nx.example", 1),
        (0.300, 4, False, 0, b"sf.example", 1),
        (0.305, 4, True, 2, b"sf.example", 1),
        (0.400, 5, False, 0, b"lost.example", 28),
        (0.500, 99, True, 0, b"x.example", 1),  # unsolicited
    ]
    second = [
        (1.100, 2, False, 0, b"b.example", 1),  # retransmission of id 2
        (1.150, 2, True, 0, b"b.example", 1),  # answers id 2: 1050 ms after the FIRST query
        (1.200, 2, True, 0, b"b.example", 1),  # retransmitted response
        (2.000, 6, False, 0, b"\x01bad\n.example", 1),
        (2.100, 6, False, 0, b"other.example", 1),  # same id, other name: a new query (not for tshark 4.0)
    ]
    # queries younger than 1 s at the end (frames 13, 14) are pending, not unanswered
    an = DnsAnalyzer(max_list=10, timeout_s=1.0)
    an.update(_messages(first))
    an.update(_messages(second, first_frame=10))
    r = an.finalize(end_ns=2_100_000_000)  # the capture ends with the last query
    assert (r.queries, r.responses, r.unanswered, r.retransmitted_queries, r.unsolicited_responses) == (
        8,
        6,
        1,
        1,
        1,
    )
    assert r.pending_at_end == 2
    assert r.rcodes == {"NOERROR": 4, "NXDOMAIN": 1, "SERVFAIL": 1}
    st = r.response_time_ms
    assert st.count == 4 and st.median == 20.0 and st.min == 5.0 and st.max == 1050.0
    assert [(q.frame, q.name, q.qtype) for q in r.unanswered_queries] == [(8, "lost.example", "AAAA")]
    assert [(q.name, q.rcode, q.response_time_ms) for q in r.error_responses] == [
        ("nx.example", "NXDOMAIN", 30.0),
        ("sf.example", "SERVFAIL", 5.0),
    ]
    assert r.slowest_queries[0].name == "b.example" and r.slowest_queries[0].frame == 3
    assert r.histogram_ms == [(5.0, 10.0, 1), (10.0, 20.0, 1), (20.0, 50.0, 1), (1000.0, 2000.0, 1)]
    (srv,) = r.servers
    assert (srv.server, srv.queries, srv.unanswered, srv.errors, srv.pending_at_end) == (SERVER, 8, 1, 2, 2)
    assert (srv.slow_answers, r.slow_answers) == (1, 1)  # the 1050 ms answer, over dns_slow_ms (100)
    assert [(round(p.t, 6), p.v) for p in an.series()] == [
        (0.01, 10.0),
        (0.23, 30.0),
        (0.305, 5.0),
        (1.15, 1050.0),
    ]


def test_compressed_and_hostile_names_are_decoded_safely() -> None:
    msg = bytes(12) + b"\x03www\xc0\x12" + b"\x07example\x00"  # "www" then a pointer to offset 18
    buf = np.frombuffer(msg, np.uint8)
    assert qname_at(buf, 12) == "www.example"
    loop = np.frombuffer(bytes(12) + b"\xc0\x0c", np.uint8)  # a pointer to itself
    assert qname_at(loop, 12) == "<Root>"
    assert qname_at(np.frombuffer(bytes(12) + b"\x05ab", np.uint8), 12) == "ab"  # cut short
    assert qname_at(buf, 0) == ""
    # as tshark 4.0 prints dns.qry.name for these bytes (checked by hand): UTF-8 kept, controls escaped,
    # invalid bytes as U+FFFD
    raw = bytes(12) + _qname(b"\x01bad\n\x7f\xc3\xa9x\xff.example")
    assert qname_at(np.frombuffer(raw, np.uint8), 12) == "\\001bad\\n\\177\u00e9x\ufffd.example"


def test_open_transactions_are_bounded() -> None:
    spec = [(i * 1.0, i, False, 0, b"q.example", 1) for i in range(50)]  # 50 unanswered, 1 s apart
    an = DnsAnalyzer(max_open=10, stale_s=5.0, max_list=3, timeout_s=2.0)
    for s in range(0, 50, 10):
        an.update(_messages(spec[s : s + 10], first_frame=s + 1))
        assert an.open_transactions <= 20
    r = an.finalize(end_ns=49_000_000_000)
    # the queries at 48 s and 49 s are younger than the 2 s timeout when the capture ends at 49 s
    assert (r.queries, r.unanswered, r.pending_at_end) == (50, 48, 2)
    assert [q.frame for q in r.unanswered_queries] == [1, 2, 3]


def test_very_slow_answer_lands_in_a_finite_last_bucket() -> None:
    an = DnsAnalyzer()
    an.update(_messages([(0.0, 9, False, 0, b"s.example", 1), (7.0, 9, True, 0, b"s.example", 1)]))
    r = an.finalize()
    assert r.histogram_ms == [(5000.0, 7000.0, 1)]
    assert '"histogram_ms":[[5000.0,7000.0,1]]' in to_json(r).decode()


def test_answer_stamped_before_its_query_is_kept_negative_without_a_bucket() -> None:
    an = DnsAnalyzer()
    spec = [(1.0, 4, False, 0, b"t.example", 1), (0.5, 4, True, 0, b"t.example", 1)]
    spec += [(2.0, 5, False, 0, b"u.example", 1), (2.003, 5, True, 0, b"u.example", 1)]
    an.update(_messages(spec))
    r = an.finalize()
    assert (r.queries, r.responses, r.unanswered) == (2, 2, 0)
    assert r.response_time_ms.min == -500.0
    assert r.histogram_ms == [(2.0, 5.0, 1)]
