"""DNS messages that are cut or malformed: counted and matched as tshark does (checked against tshark live on
captures built here, whose damage is known by construction)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from pcap_analyzer.api import analyze
from tests.engine.builders import Rec, write_pcap

TSHARK = shutil.which("tshark")
T0 = 1_700_000_000_000_000_000


def _tshark_count(path: Path, display_filter: str) -> int:
    out = subprocess.run(
        [TSHARK or "tshark", "-r", str(path), "-2", "-Y", display_filter, "-T", "fields",
         "-e", "frame.number"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    return len(out.split())


def _frame(dns: bytes, *, to_server: bool) -> bytes:
    c, s = ("10.0.0.1", 40000), ("10.0.0.53", 53)
    src, dst = (c, s) if to_server else (s, c)
    return bytes(Ether() / IP(src=src[0], dst=dst[0]) / UDP(sport=src[1], dport=dst[1]) / dns)


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_header_cut_by_the_capture_counts_when_its_flags_were_captured(tmp_path: Path) -> None:
    """Responses cut by the snap length: with the id and flags captured tshark shows dns.flags.response and
    counts the message; with only the id it does not."""
    query = bytes(DNS(id=7, rd=1, qd=DNSQR(qname="example.test")))
    rr = DNSRR(rrname="example.test", rdata="192.0.2.1")
    answer = bytes(DNS(id=7, qr=1, qd=DNSQR(qname="example.test"), an=rr))
    head = 14 + 20 + 8
    recs = [Rec(T0, _frame(query, to_server=True))]
    for k, kept in enumerate((4, 8, 2)):  # id + flags, + question count, id only
        whole = _frame(answer, to_server=False)
        recs.append(Rec(T0 + (k + 1) * 1_000_000, whole[: head + kept], wirelen=len(whole)))
    p = write_pcap(tmp_path / "cut.pcap", recs)
    want_responses = _tshark_count(p, "dns.flags.response == 1")
    assert want_responses == 2
    r = analyze(p)
    assert (r.dns.queries, r.dns.responses) == (_tshark_count(p, "dns.flags.response == 0"), want_responses)


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_malformed_queries_count_as_unanswered_in_tsharks_figure(tmp_path: Path) -> None:
    """tshark dissects a malformed DNS message up to the damage: a query whose question runs past its end
    shows no dns.response_in though its response names it, while a malformed response (an answer counted
    but missing, a name pointer far past the message) still answers its query. So only the malformed query
    counts in `dns.unanswered_query_frames`."""
    def message(qid: int, qname: str, response: bool) -> bytearray:
        return bytearray(bytes(DNS(id=qid, qr=int(response), qd=DNSQR(qname=qname))))

    bad_query = message(1, "a.test", False)
    bad_query[12] = 60  # the first label runs past the message
    short_answer = message(2, "b.test", True)
    short_answer[7] = 1  # one answer counted, none present
    wild = message(3, "c.test", True)
    wild[7] = 1  # one answer whose name points far past the end of the message
    wild += bytes.fromhex("cfff 0001 0001 00000e10 0004 c0000203")
    exchanges = [
        (bad_query, message(1, "a.test", True)),
        (message(2, "b.test", False), short_answer),
        (message(3, "c.test", False), wild),
        (message(4, "d.test", False), message(4, "d.test", True)),
    ]
    recs = []
    for query, response in exchanges:
        recs.append(Rec(T0 + len(recs) * 1_000_000, _frame(bytes(query), to_server=True)))
        recs.append(Rec(T0 + len(recs) * 1_000_000, _frame(bytes(response), to_server=False)))
    p = write_pcap(tmp_path / "malformed.pcap", recs)
    want = _tshark_count(p, "dns.flags.response == 0 && !dns.response_in")
    assert want == 1
    r = analyze(p)
    assert r.dns.unanswered_query_frames == want
    assert (r.dns.queries, r.dns.responses) == (4, 4)
