"""FlowTracker: tshark's tcp.stream numbering, port reuse, aggregates, fragments, chunk boundaries."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether

from pcap_analyzer.capture.open import open_capture
from pcap_analyzer.decode import decode_chunk
from pcap_analyzer.decode.packets import L3, PacketTable
from pcap_analyzer.flows.model import FlowAssignment
from pcap_analyzer.flows.tracker import FlowTracker
from tests.engine.builders import records_from_scapy, write_pcap
from tests.engine.decode.chunks import chunk_of, v4

pytestmark = pytest.mark.every_corpus

CAPTURE = "netns_mixed_s128.pcap"


def _tshark_streams(path: Path) -> np.ndarray:
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "tcp.stream"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return np.array([int(x) if x else -1 for x in out], np.int64)


def _run(
    path: Path, chunk_bytes: int | None = None
) -> tuple[FlowTracker, list[PacketTable], list[FlowAssignment]]:
    tracker = FlowTracker()
    tables, flows = [], []
    kwargs = {} if chunk_bytes is None else {"chunk_bytes": chunk_bytes}
    with open_capture(path, **kwargs) as reader:
        for chunk in reader:
            tables.append(decode_chunk(chunk))
            flows.append(tracker.assign(tables[-1]))
    return tracker, tables, flows


@pytest.fixture(scope="module")
def corpus_run(corpus_dir: Path) -> tuple[FlowTracker, list[PacketTable], list[FlowAssignment]]:
    return _run(corpus_dir / CAPTURE)


def test_tcp_stream_matches_tshark_on_every_packet(corpus_run: Any, corpus_dir: Path, oracle: dict) -> None:
    tracker, _, flows = corpus_run
    ours = np.concatenate([f.tcp_stream for f in flows])
    assert int(ours.max()) + 1 == oracle[CAPTURE]["tcp"]["streams"]
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    theirs = _tshark_streams(corpus_dir / CAPTURE)
    assert np.flatnonzero(ours != theirs)[:10].tolist() == []


def test_small_chunks_give_the_same_assignment(corpus_run: Any, corpus_dir: Path) -> None:
    _, _, flows = corpus_run
    _, _, small = _run(corpus_dir / "netns_mixed_truncated.pcap", chunk_bytes=1 << 16)
    assert len(small) > 10
    n = sum(len(f.conv) for f in small)
    for name in ("conv", "tcp_stream", "direction"):
        whole = np.concatenate([getattr(f, name) for f in flows])[:n]
        assert np.array_equal(np.concatenate([getattr(f, name) for f in small]), whole)


def test_aggregates_match_oracle_top_streams(corpus_run: Any, oracle: dict) -> None:
    tracker, tables, flows = corpus_run
    table = tracker.table()
    for top in oracle[CAPTURE]["tcp"]["top_streams_by_bytes"]:
        (c,) = np.flatnonzero(table.tcp_stream == top["stream"])
        assert table.packets_ab[c] + table.packets_ba[c] == top["frames"]
        assert table.bytes_ab[c] + table.bytes_ba[c] == top["bytes"]
        assert table.payload_ab[c] + table.payload_ba[c] == top["tcp_payload_bytes"]
        addr, port = top["first_frame_from"].rsplit(":", 1)
        assert table.a_lo[c] & 0xFFFF_FFFF == int(ipaddress.IPv4Address(addr)) and table.a_port[c] == int(
            port
        )
    l3 = np.concatenate([t.l3 for t in tables])
    conv = np.concatenate([f.conv for f in flows])
    assert np.array_equal(conv >= 0, (l3 == L3.IPV4) | (l3 == L3.IPV6))
    assert int((table.packets_ab + table.packets_ba).sum()) == int((conv >= 0).sum())
    assert len(conv) == oracle[CAPTURE]["file"]["frames"]


def _reuse_capture() -> list[Any]:
    """One 5-tuple used by three connections: FIN-closed, RST-closed, then a SYN, its retransmission and a
    simultaneous-open SYN from the other side (same connection: that direction had no base sequence yet)."""
    a, b = "10.0.0.1", "10.0.0.2"

    def seg(src: str, dst: str, sp: int, dp: int, flags: str, seq: int, ack: int = 0) -> Any:
        return Ether() / IP(src=src, dst=dst) / TCP(sport=sp, dport=dp, flags=flags, seq=seq, ack=ack)

    pkts = []
    for isn in (1000, 50000):  # connection closed by FIN both ways, then by RST
        pkts += [
            seg(a, b, 1111, 80, "S", isn),
            seg(b, a, 80, 1111, "SA", 9000 + isn, isn + 1),
            seg(a, b, 1111, 80, "A", isn + 1, 9001 + isn),
        ]
        if isn == 1000:
            pkts += [
                seg(a, b, 1111, 80, "FA", isn + 1, 9001 + isn),
                seg(b, a, 80, 1111, "FA", 9001 + isn, isn + 2),
                seg(a, b, 1111, 80, "A", isn + 2, 9002 + isn),
            ]
        else:
            pkts += [seg(a, b, 1111, 80, "R", isn + 1)]
    pkts += [seg(a, b, 1111, 80, "S", 77777), seg(a, b, 1111, 80, "S", 77777)]  # SYN and its retransmission
    pkts += [seg(b, a, 80, 1111, "S", 424242)]  # the other side's first SYN: no base sequence there yet
    pkts += [Ether() / IP(src=a, dst=b) / UDP(sport=1111, dport=80), Ether() / ARP()]
    return pkts


def test_port_reuse_matches_tshark(tmp_path: Path) -> None:
    pkts = _reuse_capture()
    chunk = chunk_of(pkts)
    tracker = FlowTracker()
    flows = tracker.assign(decode_chunk(chunk))
    expected = [0] * 6 + [1] * 4 + [2, 2, 2, -1, -1]  # by construction (Wireshark's rule: ISN differs)
    assert flows.tcp_stream.tolist() == expected
    assert flows.conv.tolist() == [0] * 6 + [1] * 4 + [2, 2, 2, 3, -1]
    assert flows.direction.tolist()[:6] == [0, 1, 0, 0, 1, 0] and flows.direction[12] == 1
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    path = write_pcap(tmp_path / "reuse.pcap", records_from_scapy(pkts))
    assert _tshark_streams(path).tolist() == expected


def test_idle_split_starts_a_new_conversation_for_a_repeated_syn() -> None:
    syn = Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=5, dport=6, flags="S", seq=1)
    chunk = chunk_of([syn, syn, syn])
    chunk.ts_ns[:] = [0, 3_000_000_000, 20_000_000_000]
    flows = FlowTracker(tcp_idle_split_s=10).assign(decode_chunk(chunk))
    assert flows.tcp_stream.tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="positive"):
        FlowTracker(tcp_idle_split_s=0)


def test_fragments_follow_their_datagram() -> None:
    dgram = IP(src="10.0.0.1", dst="10.0.0.2", id=77) / UDP(sport=1000, dport=2000) / (b"x" * 100)
    orphan = IP(src="10.0.0.1", dst="10.0.0.2", id=78, frag=20, proto=17) / (b"y" * 16)
    reply = IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=2000, dport=1000)
    pkts = [Ether() / f for f in fragment(dgram, fragsize=48)] + [Ether() / orphan, Ether() / reply]
    tracker = FlowTracker()
    flows = tracker.assign(decode_chunk(chunk_of(pkts)))
    assert flows.conv.tolist() == [0, 0, 0, 1, 0]
    assert flows.direction.tolist() == [0, 0, 0, 0, 1]
    table = tracker.table()
    assert (table.a_port[1], table.b_port[1]) == (0, 0)  # address pair only: the first fragment was not seen
    assert table.packets_ab[0] == 3 and table.packets_ba[0] == 1 and table.payload_ab[0] == 100


def test_many_flows_grow_the_tables_and_icmp_v6_pairs() -> None:
    pkts = [Ether() / IP(src="10.0.0.1", dst="10.0.1.1") / UDP(sport=1024 + k, dport=53) for k in range(3000)]
    pkts += [
        Ether() / IP(src="10.0.1.1", dst="10.0.0.1") / UDP(sport=53, dport=1024 + k) for k in range(3000)
    ]
    pkts += [Ether() / IPv6(src="::1", dst="::2") / ICMP(), Ether() / IPv6(src="::2", dst="::1") / ICMP()]
    tracker = FlowTracker()
    flows = [tracker.assign(decode_chunk(chunk_of(pkts[i : i + 1000]))) for i in range(0, len(pkts), 1000)]
    conv = np.concatenate([f.conv for f in flows])
    direction = np.concatenate([f.direction for f in flows])
    assert conv[:3000].tolist() == list(range(3000)) and conv[3000:6000].tolist() == list(range(3000))
    assert direction[3000:6000].tolist() == [1] * 3000
    table = tracker.table()
    assert len(table) == 3001 and table.a_lo[0] == v4("10.0.0.1") and table.b_port[2999] == 53
    assert (table.packets_ab == 1).all() and (table.packets_ba == 1).all()
