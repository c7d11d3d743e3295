"""IP reassembly against tshark (ip.defragment / ipv6.defragment on) on real fragmented traffic.

Captures and oracle: tests/data/fragments (README.md there). Each frame's transport fields must be where
tshark dissects them: on the frame that completes a datagram, none on the other fragments, whatever the
chunk size (one record per chunk makes every datagram span chunks).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pcap_analyzer.analyzers.common import format_addr
from pcap_analyzer.analyzers.dns_names import qname_at
from pcap_analyzer.api import analyze
from pcap_analyzer.capture.open import open_capture
from pcap_analyzer.decode import decode_chunk
from pcap_analyzer.decode.packets import FRAG_IS_FRAGMENT, Undecoded
from pcap_analyzer.decode.reassembly import IpReassembler
from pcap_analyzer.flows.tracker import FlowTracker

DATA = Path(__file__).resolve().parents[2] / "data" / "fragments"
ORACLE = json.loads((DATA / "oracle.json").read_text())["captures"]
CAPTURES = sorted(ORACLE)
TSHARK = shutil.which("tshark")


def _make_oracle():  # noqa: ANN202 (the module)
    spec = importlib.util.spec_from_file_location("fragments_make_oracle", DATA / "make_oracle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Frames:
    """The engine's per-frame view of a capture, in the oracle's shapes (frame numbers as strings)."""

    udp: dict[str, list[int]] = field(default_factory=dict)
    tcp: dict[str, list[int]] = field(default_factory=dict)
    dns: dict[str, list[object]] = field(default_factory=dict)
    conv: dict[int, int] = field(default_factory=dict)  # frame -> conversation id
    fragments: list[int] = field(default_factory=list)  # frames with a fragment left without transport
    first_fragments: set[int] = field(default_factory=set)  # frames of fragments at offset 0 (headers)
    conversations: dict[str, int] = field(default_factory=dict)
    reassembler: IpReassembler | None = None


def _frames(path: Path, chunk_bytes: int, reassembler: IpReassembler | None = None) -> Frames:
    """Read `path` with the engine's stages (decode, reassembly, flows), `chunk_bytes` per chunk."""
    out = Frames(reassembler=reassembler or IpReassembler())
    tracker = FlowTracker()
    keys: dict[str, list[int]] = {}
    with open_capture(path, chunk_bytes=chunk_bytes) as reader:
        for chunk in reader:
            p = out.reassembler.apply(decode_chunk(chunk))
            flows = tracker.assign(p)
            for i in range(len(p)):
                frame = str(int(p.frame[i]))
                out.conv[int(p.frame[i])] = int(flows.conv[i])
                if p.undecoded[i] in (Undecoded.FIRST_FRAGMENT, Undecoded.NON_FIRST_FRAGMENT):
                    out.fragments.append(int(p.frame[i]))
                if p.frag[i] & FRAG_IS_FRAGMENT and p.frag_offset[i] == 0:
                    out.first_fragments.add(int(p.frame[i]))
                if p.undecoded[i] != Undecoded.OK or p.l4_offset[i] == 0:
                    continue
                ports = [int(p.sport[i]), int(p.dport[i])]
                if p.ip_proto[i] == 17:
                    out.udp[frame] = [*ports, int(p.payload_len[i])]
                elif p.ip_proto[i] == 6:
                    out.tcp[frame] = [int(flows.tcp_stream[i]), *ports, int(p.payload_len[i])]
                if p.ip_proto[i] in (6, 17):
                    keys.setdefault(frame, [int(flows.conv[i])])
                if p.is_dns[i]:
                    qr = int(p.dns_flags[i]) >> 15
                    out.dns[frame] = [int(p.dns_id[i]), qr, qname_at(p.buf, int(p.dns_qname_offset[i]))]
    table = tracker.table()
    for (c,) in keys.values():
        proto = {6: "tcp", 17: "udp"}[int(table.ip_proto[c])]
        a = (format_addr(int(table.a_hi[c]), int(table.a_lo[c])), int(table.a_port[c]))
        b = (format_addr(int(table.b_hi[c]), int(table.b_lo[c])), int(table.b_port[c]))
        (x, xp), (y, yp) = sorted((a, b))
        name = f"{proto} {x}:{xp} {y}:{yp}"
        out.conversations[name] = out.conversations.get(name, 0) + 1
    return out


@pytest.mark.parametrize("chunk_bytes", [1, 4096, 1 << 20], ids=["record-per-chunk", "4k", "1M"])
@pytest.mark.parametrize("name", CAPTURES)
def test_transport_fields_on_the_frames_tshark_dissects(name: str, chunk_bytes: int) -> None:
    want = ORACLE[name]
    got = _frames(DATA / name, chunk_bytes)
    assert got.udp == want["udp"]
    assert got.tcp == want["tcp"]
    assert got.dns == {k: [v[0], v[1], v[2]] for k, v in want["dns"].items()}
    assert got.conversations == want["conversations"]
    # every fragment tshark took in, and the fragments it could not reassemble, are plain fragments here
    completing = set(want["reassembled_in"].values())
    plain = {int(f) for f in want["reassembled_in"] if want["reassembled_in"][f] != int(f)}
    assert plain | set(want["fragments_not_reassembled"]) == set(got.fragments) - completing


@pytest.mark.parametrize("name", CAPTURES)
def test_fragments_share_their_datagram_conversation(name: str) -> None:
    """A fragment seen after its datagram's first fragment belongs to the conversation of the frame that
    completes the datagram (so per-conversation frames and bytes count every fragment once)."""
    want = ORACLE[name]
    got = _frames(DATA / name, 1)
    by_datagram: dict[int, list[int]] = {}
    for frame, into in want["reassembled_in"].items():
        by_datagram.setdefault(into, []).append(int(frame))
    checked = 0
    for into, frames in by_datagram.items():
        first = min(f for f in [*frames, into] if f in got.first_fragments)
        for f in frames:
            if f > first:
                assert got.conv[f] == got.conv[into], (f, into)
                checked += 1
    assert checked >= 10


@pytest.mark.parametrize("name", CAPTURES)
def test_report_counts_match_tshark(name: str) -> None:
    want = ORACLE[name]
    for chunk_bytes in (64 * 1024, 1 << 22):
        r = analyze(DATA / name, config={"chunk_bytes": chunk_bytes})
        c = want["counts"]
        assert (r.dns.queries, r.dns.responses) == (c["dns_queries"], c["dns_responses"])
        assert (r.tcp.conversations, r.tcp.payload_bytes) == (c["tcp_streams"], c["tcp_payload"])
        assert (r.tcp.lost_segments, r.tcp.retransmissions, r.tcp.out_of_order) == (0, 0, 0)
        shares = {s.protocol: s.packets for s in r.protocols}
        udp = sum(v for k, v in shares.items() if k.endswith("/UDP"))
        tcp = sum(v for k, v in shares.items() if k.endswith("/TCP"))
        assert (udp, tcp) == (c["udp_frames"], c["tcp_frames"])
        ip = [x for x in r.conversations if x.a != "non-ip"]
        pairs = {" ".join(sorted((x.a, x.b))): [x.packets, x.bytes] for x in ip}
        assert pairs == want["address_pairs"]
        assert r.fragmentation.reassembled == len(set(want["reassembled_in"].values()))


def test_netns_capture_holds_what_the_scenario_made() -> None:
    """By construction: kernel-fragmented UDP over IPv4 and IPv6, DNS answers over the MTU, TCP segments
    fragmented by the router, and one IPv6 datagram of which only the last fragment got through."""
    want = ORACLE["fragments_netns.pcap"]
    completing = set(want["reassembled_in"].values())
    assert {v[2] for k, v in want["udp"].items() if int(k) in completing} >= {3000}
    # 20000 bytes: 13 full 1448-byte segments over the 1280-byte link, the last (1176 bytes) fits
    assert sum(1 for k in want["tcp"] if int(k) in completing) == 13
    assert sum(1 for k in want["dns"] if int(k) in completing) == 6
    assert len(want["fragments_not_reassembled"]) == 1


def test_bounded_table_drops_interleaved_datagrams() -> None:
    """With room for one open datagram, the two interleaved datagrams of the reordered capture push each
    other out and never complete; every other datagram there is reassembled as tshark does."""
    want = ORACLE["fragments_reordered.pcap"]
    got = _frames(DATA / "fragments_reordered.pcap", 1, IpReassembler(max_open=1))
    interleaved = {"12", "13"}  # by construction: a TCP segment and a DNS answer cut into alternating pieces
    assert {k: v for k, v in want["tcp"].items() if k not in interleaved} == got.tcp
    assert {k: v for k, v in want["udp"].items() if k not in interleaved} == got.udp
    assert interleaved <= set(want["tcp"]) | set(want["udp"])
    assert got.reassembler is not None and got.reassembler.limits()["ip_reassembly_dropped"] > 0


def test_timeout_drops_datagrams_spread_over_longer() -> None:
    """Fragments 1 ms apart never complete within 0.5 ms: no transport header anywhere, and the first
    fragments stay plain fragments."""
    got = _frames(DATA / "fragments_reordered.pcap", 1 << 20, IpReassembler(timeout_s=0.0005))
    assert got.udp == {} and got.tcp == {} and got.dns == {}
    assert got.reassembler is not None and got.reassembler.limits()["ip_reassembly_timed_out"] > 0


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_fragments_cut_by_the_snap_length_are_left_as_decoded(tmp_path: Path) -> None:
    """tshark does not reassemble fragments that are not whole in the capture, and dissects a first
    fragment's headers as they are; so does the engine (compared with tshark live)."""
    cut = tmp_path / "cut.pcap"
    _cut_copy(DATA / "fragments_netns.pcap", cut, snaplen=200)
    want = _make_oracle().facts(cut)
    got = _frames(cut, 1 << 20)
    assert want["reassembled_in"] == {} and want["udp"] and want["tcp"]
    assert got.udp == want["udp"]
    assert got.dns == want["dns"]
    # TCP in a first fragment tshark could not reassemble: dissected (ports, flags), but outside tcp.len and
    # the stream analysis; the frames that carry a TCP header are the same
    assert set(got.tcp) == set(want["tcp"])


def _cut_copy(src: Path, dst: Path, snaplen: int) -> None:
    """`src` (a little-endian classic pcap) with every record cut to `snaplen` bytes."""
    data = src.read_bytes()
    out = bytearray(data[:16] + struct.pack("<I", snaplen) + data[20:24])
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack_from("<IIII", data, pos)
        keep = min(caplen, snaplen)
        out += struct.pack("<IIII", sec, frac, keep, wirelen) + data[pos + 16 : pos + 16 + keep]
        pos += 16 + caplen
    dst.write_bytes(bytes(out))


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
@pytest.mark.parametrize("name", CAPTURES)
def test_oracle_is_what_tshark_says(name: str) -> None:
    assert _make_oracle().facts(DATA / name) == ORACLE[name]
