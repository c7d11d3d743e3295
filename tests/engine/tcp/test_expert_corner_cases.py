"""tshark 4.0's tcp.analysis corner cases found on the public corpus, each on a connection built packet by
packet (truth by construction; `run` also requires tshark's flags frame by frame when tshark is installed),
then on the public-corpus captures they were found in (collected only when ../shared exists)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcap_analyzer.tcp.model import TcpAnalysis as A
from tests.engine.tcp.scenario import ACK, FIN, PSH, RST, SYN, Conv
from tests.engine.tcp.test_corpus import _pipeline
from tests.engine.tcp.test_expert import has, run
from tests.engine.tcp.tshark_tables import TSHARK, TSHARK_BITS, tshark_analysis


def test_syn_resent_after_a_rst_restores_the_expected_sequence_number(tmp_path: Path) -> None:
    """The server answers a SYN with a bare ACK; the client resets with that ACK number as its sequence
    number (RFC 793 3.4), which moves its highest sequence number far away, then sends its SYN again. tshark
    (issue 17616) moves the expected sequence number back to the highest continuous one on a SYN carrying the
    ISN: the resent SYN is a retransmission, the request after the handshake is new data, not a resend."""
    c = Conv()
    c.c(0, SYN, 0, 0)
    c.s(15, ACK, 1, 5_000_000)  # a stale ACK number
    c.c(16, RST, 5_000_000, 0)
    syn_again = c.c(3000, SYN, 0, 0)
    synack = c.s(3015, SYN | ACK, 0, 1)  # below the server's bare ACK (sequence number 1): resent too
    c.c(3016, ACK, 1, 1)
    request = c.c(3017, ACK | PSH, 1, 1, length=195)
    c.s(3035, ACK, 1, 196)
    res, _ = run(c, tmp_path)
    resent = [f for f in range(1, len(c.pkts) + 1) if has(res, f, A.RETRANSMISSION)]
    assert resent == [syn_again, synack]
    assert not has(res, request, A.RETRANSMISSION)


def test_fin_resent_after_an_acked_unseen_segment_is_a_fast_retransmission(tmp_path: Path) -> None:
    """The server's FIN sent again with an ACK beyond the client's captured data: flagging that ACK leaves the
    client direction's duplicate-ACK counter at -1, which tshark keeps unsigned (0xFFFFFFFF >= 2), so the FIN
    resent within 20 ms of the client's last ACK, at the client's ACK number, is a fast retransmission."""
    c = Conv()
    c.handshake()
    c.c(30, ACK | PSH, 1, 1, length=274)
    c.s(31, ACK, 1, 275)
    c.s(32, FIN | ACK, 1, 275)
    c.c(100, ACK, 275, 1, length=1440)
    again = c.s(101, FIN | ACK, 1, 1723)  # 8 bytes the capture missed
    c.c(190, ACK, 1723, 1, length=1448)
    late = c.s(250, FIN | ACK, 1, 3171)  # 60 ms after the client's last ACK: no longer fast
    res, rep = run(c, tmp_path)
    assert has(res, again, A.ACK_LOST_SEGMENT)
    assert has(res, again, A.FAST_RETRANSMISSION) and has(res, again, A.RETRANSMISSION)
    assert has(res, late, A.RETRANSMISSION) and not has(res, late, A.FAST_RETRANSMISSION)
    assert rep.count(A.FAST_RETRANSMISSION) == 1


def test_acked_unseen_segments_across_the_sequence_wrap(tmp_path: Path) -> None:
    """A sparse capture of a long download whose sequence numbers wrap past 2**32 between two captured
    segments: the ACKed-unseen mark is compared with the highest sequence number in sequence space (tshark's
    LT_SEQ), so each ACK that runs ahead of newly captured data is flagged, on both sides of the wrap."""
    c = Conv(isn=(1_000_000, 0xFFFF0000))
    c.handshake()
    c.c(30, ACK | PSH, 1, 1, length=100)
    c.s(31, ACK, 1, 101, length=1000)
    c.c(32, ACK, 101, 1001)
    t = 40.0
    flagged = []
    for rel in (60_001, 160_001, 260_001):  # each beyond a hole; the first one past the wrap (2**32 - ISN)
        c.s(t, ACK, rel, 101, length=1000)
        flagged.append(c.c(t + 1, ACK, 101, rel + 1000 - 500))  # acks data the capture missed
        t += 10
    res, rep = run(c, tmp_path)
    assert all(has(res, f, A.ACK_LOST_SEGMENT) for f in flagged)
    assert rep.count(A.ACK_LOST_SEGMENT) == len(flagged)


def test_initial_rtt_applies_from_the_frame_after_the_ack_that_measures_it(tmp_path: Path) -> None:
    """A SYN carrying data, the peer's SYN/ACK, then the initiator's first ACK resending part of the SYN's
    data: tshark measures the initial RTT (SYN -> that ACK, 2 ms) after analysing the ACK itself, so the ACK
    is judged with the 3 ms default threshold: out-of-order, not a retransmission. Later resends use 2 ms."""
    c = Conv()
    c.c(0, SYN, 0, 0, length=10)
    c.s(1, SYN | ACK, 0, 1)
    first_ack = c.c(2, ACK | PSH, 1, 1, length=5)
    c.c(2.5, ACK | PSH, 11, 1, length=100)
    later = c.c(5, ACK | PSH, 11, 1, length=50)  # 2.5 ms after the highest segment: beyond the 2 ms RTT
    res, rep = run(c, tmp_path)
    assert has(res, first_ack, A.OUT_OF_ORDER) and not has(res, first_ack, A.RETRANSMISSION)
    assert has(res, later, A.RETRANSMISSION) and not has(res, later, A.OUT_OF_ORDER)
    assert rep.initial_rtt_s()[0] == pytest.approx(0.002)


def test_initial_rtt_measured_backwards_in_time_makes_every_early_resend_out_of_order(tmp_path: Path) -> None:
    """The handshake's ACK stamped before the SYN (clock step; the SYN/ACK was not captured): tshark's
    initial RTT is negative and its out-of-order threshold, unsigned, is then larger than any delay: a segment
    that does not advance and does not end at the highest sequence number is out-of-order however late."""
    c = Conv()
    c.c(10, SYN, 0, 0)
    c.c(5, ACK, 1, 1)
    c.c(30, ACK | PSH, 1, 1, length=100)
    resend = c.c(900, ACK | PSH, 1, 1, length=50)
    res, rep = run(c, tmp_path)
    assert has(res, resend, A.OUT_OF_ORDER) and not has(res, resend, A.RETRANSMISSION)
    assert rep.initial_rtt_s()[0] == pytest.approx(-0.005)


PUBLIC = Path(__file__).resolve().parents[4] / "shared" / "public-corpus"
# Captures where these rules decided tshark's flags (frames that differed before they were followed); None:
# every frame of the capture agrees, else only the frames listed (fuzzed headers elsewhere differ otherwise).
CORPUS_CASES: dict[str, list[int] | None] = {
    "suri__tests__tls__tls-subjectaltname__input.pcap": None,  # SYN resent after a RST
    "zeek__testing__btest__Traces__tcp__reassembly.pcap": None,  # FIN fast retransmissions
    "zeek__testing__btest__Traces__ftp__bigtransfer.pcap": None,  # ACKed unseen segments across the wrap
    "suri__tests__util-action-tests__util-action-03__input.pcap": None,  # initial RTT after its ACK
    "zeek__testing__btest__Traces__modbus__fuzz-72.pcap": [2],
    "ndpi__tests__cfgs__default__pcap__fuzz-2006-09-29-28586.pcap": [110],
}

if PUBLIC.is_dir():

    @pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
    @pytest.mark.parametrize("name", sorted(CORPUS_CASES))
    def test_public_corpus_frames_flagged_as_tshark(name: str) -> None:
        """Our whole pipeline on the capture: every frame's flags (or the listed frames') are tshark's."""
        path = PUBLIC / name
        chunks: list[np.ndarray] = []
        _pipeline(path, chunks)
        frame, bits = np.concatenate(chunks, axis=1)[:2]
        ref = tshark_analysis(path)["bits"][frame - 1]
        ours = bits & TSHARK_BITS
        only = CORPUS_CASES[name]
        checked = np.ones(frame.size, np.bool_) if only is None else np.isin(frame, only)
        assert checked.any()
        bad = np.flatnonzero(checked & (ours != ref))
        assert bad.size == 0, f"frames {frame[bad]}: ours {ours[bad]} tshark {ref[bad]}"
