"""DNS over TCP reassembled as tshark does, and tshark's unanswered figure, on real traffic
(tests/data/dns_tcp: a DNS server and client in network namespaces; oracle.json made by tshark 4.0 -2).

The capture holds a query whose length prefix is its own segment, a query cut inside the message, three
pipelined queries in one segment answered in one segment, a ~2.5 kB answer over five segments one of which
is retransmitted, an answer written in three parts, an unanswered query over TCP, and UDP queries re-sent
inside and outside tshark's 5-second retransmission window."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pcap_analyzer.analyzers.dns import DnsAnalyzer
from pcap_analyzer.api import analyze
from pcap_analyzer.capture.open import open_capture
from pcap_analyzer.decode import decode_chunk
from pcap_analyzer.decode.dns_tcp import HEAD_BYTES, DnsTcpReassembler
from tests.conftest import RCODE_NAMES
from tests.engine.analyzers.pipeline import Analyzers, run

HERE = Path(__file__).resolve().parents[2] / "data" / "dns_tcp"
CAPTURE = HERE / "dns_tcp_netns.pcap"
TSHARK, EDITCAP = shutil.which("tshark"), shutil.which("editcap")


@pytest.fixture(scope="module")
def oracle() -> dict[str, Any]:
    return json.loads((HERE / "oracle.json").read_text())["captures"][CAPTURE.name]


def _tcp_messages(path: Path, chunk_bytes: int | None = None, max_streams: int = 4096) -> list[list[Any]]:
    """[frame, 'tcp', QR bit, id] of every message the reassembler yields, as the oracle lists them."""
    reassembler = DnsTcpReassembler(max_streams=max_streams)
    out = []
    kwargs = {} if chunk_bytes is None else {"chunk_bytes": chunk_bytes}
    with open_capture(path, **kwargs) as reader:
        for chunk in reader:
            p = decode_chunk(chunk)
            m = reassembler.update(p)
            assert reassembler.streams <= max_streams
            assert m.buf.size <= HEAD_BYTES * len(m)  # only each message's start is kept
            rows = zip(m.row.tolist(), m.dns_flags.tolist(), m.dns_id.tolist(), strict=True)
            out += [[int(p.frame[r]), "tcp", f >> 15, i] for r, f, i in rows]
    return out


@pytest.mark.parametrize("chunk_bytes", [None, 1500])
def test_tcp_messages_are_tsharks_frame_by_frame(oracle: dict[str, Any], chunk_bytes: int | None) -> None:
    want = [m for m in oracle["messages"] if m[1] == "tcp"]
    assert oracle["tcp_retransmitted_frames"]  # the capture does hold a retransmitted answer segment
    assert _tcp_messages(CAPTURE, chunk_bytes) == want  # small chunks: messages cross chunk boundaries


def test_bounded_state_still_finds_every_message(oracle: dict[str, Any]) -> None:
    # connections follow one another: two directions kept are enough (closed connections are forgotten)
    assert _tcp_messages(CAPTURE, max_streams=2) == [m for m in oracle["messages"] if m[1] == "tcp"]


def test_dns_figures_match_tshark(oracle: dict[str, Any]) -> None:
    r = analyze(CAPTURE)
    d = r.dns
    # the protocol hierarchy counts the frames that complete a message over TCP, as tshark's io,phs
    tcp_frames = {m[0] for m in oracle["messages"] if m[1] == "tcp"}
    assert {x.protocol: x.packets for x in r.protocols}["Ethernet/IPv4/TCP/DNS"] == len(tcp_frames)
    assert (d.queries, d.responses) == (oracle["queries"], oracle["responses"])
    assert {k: [v.queries, v.responses] for k, v in d.by_protocol.items()} == oracle["by_protocol"]
    assert d.rcodes == {RCODE_NAMES.get(k, k): v for k, v in oracle["rcodes"].items()}
    assert d.unanswered_query_frames == oracle["unanswered_query_frames"]
    # Ours, per transaction: the TCP query and the UDP query sent three times are never answered; the UDP
    # query answered on its second sending (after 6 s) is answered (tshark: its first frame is not).
    assert (d.unanswered, d.pending_at_end) == (2, 0)
    tcp_queries = {m[0] for m in oracle["messages"] if m[1] == "tcp" and m[2] == 0}
    times = sorted(q.response_time_ms for q in d.slowest_queries if q.frame in tcp_queries)
    want = oracle["tcp_response_times_ms"]
    assert len(times) == len(want)
    assert all(abs(a - b) <= max(0.01 * b, 0.05) for a, b in zip(times, want, strict=True))


def test_the_test_pipeline_feeds_tcp_messages_too(oracle: dict[str, Any]) -> None:
    an = run(CAPTURE, chunk_bytes=1500, analyzers=Analyzers(dns=DnsAnalyzer()))
    d = an.dns.finalize()
    assert (d.queries, d.responses) == (oracle["queries"], oracle["responses"])
    assert d.unanswered_query_frames == oracle["unanswered_query_frames"]


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_oracle_is_tsharks_live(oracle: dict[str, Any]) -> None:
    spec = importlib.util.spec_from_file_location("dns_tcp_make_oracle", HERE / "make_oracle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.facts(CAPTURE) == oracle


@pytest.mark.skipif(TSHARK is None or EDITCAP is None, reason="tshark or editcap not installed")
@pytest.mark.parametrize(
    "dropped",
    [
        "39",  # the second segment of the big answer: that answer is lost, the next messages are found
        "8",  # a query's length prefix: its message is lost, the stream resynchronises on the next query
        "14",  # the first 9 bytes of a query: the same
    ],
)
def test_segments_missing_from_the_capture_like_tshark(tmp_path: Path, dropped: str) -> None:
    cut = tmp_path / "cut.pcap"
    subprocess.run([EDITCAP or "editcap", str(CAPTURE), str(cut), dropped], check=True, capture_output=True)
    out = subprocess.run(
        [
            TSHARK or "tshark",
            "-r",
            str(cut),
            "-2",
            "-Y",
            "tcp && dns",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-e",
            "frame.number",
            "-e",
            "dns.flags.response",
            "-e",
            "dns.id",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    want = []
    for line in out.splitlines():
        frame, qr, ids = line.split("\t")
        pairs = zip(qr.split(","), ids.split(","), strict=True)
        want += [[int(frame), "tcp", int(f), int(i, 16)] for f, i in pairs]
    assert _tcp_messages(cut) == want
