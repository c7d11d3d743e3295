"""The analyzers on a scapy-built capture (DNS cases, RTP with a lost packet, fragments, a gap),
checked against tshark run on the same file where tshark has the figure, else against construction."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.engine.analyzers.pipeline import Analyzers, run
from tests.engine.analyzers.scenario import GAP_S, RTP_DST, RTP_PACKETS, RTP_SRC, write_scenario

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _tshark(path: Path, *args: str) -> str:
    env = dict(os.environ, WIRESHARK_CONFIG_DIR=str(path.parent / "wsconf"), LC_ALL="C")
    (path.parent / "wsconf").mkdir(exist_ok=True)
    return subprocess.run(
        ["tshark", "-r", str(path), "-2", *args], capture_output=True, text=True, env=env, check=True
    ).stdout


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Analyzers]:
    path = write_scenario(tmp_path_factory.mktemp("scenario") / "scenario.pcap")
    return path, run(path)


def test_dns_against_tshark(scenario: tuple[Path, Analyzers]) -> None:
    path, an = scenario
    rows = [
        line.split("\t")
        for line in _tshark(
            path,
            "-Y",
            "dns",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "dns.flags.response",
            "-e",
            "dns.time",
            "-e",
            "dns.retransmission",
            "-e",
            "dns.response_in",
            "-e",
            "dns.flags.rcode",
        ).splitlines()
    ]
    queries = [r for r in rows if r[1] == "0"]
    responses = [r for r in rows if r[1] == "1"]
    d = an.dns.finalize()
    assert (d.queries, d.responses) == (len(queries), len(responses)) == (9, 6)
    # tshark 4.0 takes the reuse of id 7 for another name (ID_REUSE) for a retransmission; by construction
    # only retx.test was re-sent, and first.test was never answered
    assert sum(1 for r in queries if r[3] == "1") == 2
    assert d.retransmitted_queries == 1
    assert sum(1 for r in queries if not r[4] and r[3] != "1") == 1
    assert d.unanswered == 2
    assert [q.name for q in d.unanswered_queries] == ["lost.test", "first.test"]
    times = sorted(float(r[2]) * 1000 for r in responses if r[2])
    assert d.response_time_ms.count == len(times)
    assert d.response_time_ms.max == pytest.approx(
        times[-1], abs=1e-3
    )  # the retransmitted query: from the first
    assert d.response_time_ms.min == pytest.approx(times[0], abs=1e-3)
    names = {"0": "NOERROR", "2": "SERVFAIL", "3": "NXDOMAIN"}
    expected: dict[str, int] = {}
    for r in responses:
        expected[names[r[5]]] = expected.get(names[r[5]], 0) + 1
    assert d.rcodes == expected
    assert {q.name: q.rcode for q in d.error_responses} == {"nx.test": "NXDOMAIN", "fail.test": "SERVFAIL"}
    assert d.slowest_queries[0].name == "slow.test"


def test_rtp_stream_against_tshark(scenario: tuple[Path, Analyzers]) -> None:
    path, an = scenario
    out = _tshark(path, "-q", "--enable-heuristic", "rtp_udp", "-z", "rtp,streams")
    m = re.search(
        r"\s(\d+)\s+(-?\d+) \(\S+%\)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", out
    )
    assert m, out
    pkts, lost, max_jitter = int(m.group(1)), int(m.group(2)), float(m.group(8))
    (s,) = an.udp.finalize()
    assert (s.src, s.src_port, s.dst, s.dst_port) == (*RTP_SRC, *RTP_DST)
    assert s.rtp_like and s.jitter_method == "rtp_timestamp"
    assert s.packets == pkts == RTP_PACKETS and s.rtp_lost == lost == 1
    # Same RFC 3550 estimator; tshark rounds its arrival times to the microsecond.
    assert s.jitter_ms.max == pytest.approx(max_jitter, abs=0.002)


def test_rtp_jitter_matches_the_oracle_definition_on_tshark_fields(scenario: tuple[Path, Analyzers]) -> None:
    """make_oracle.py's rtp variant, computed here from tshark's frame.time_epoch and rtp.timestamp."""
    path, an = scenario
    rows = [
        line.split("\t")
        for line in _tshark(
            path,
            "--enable-heuristic",
            "rtp_udp",
            "-Y",
            "rtp",
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "rtp.timestamp",
        ).splitlines()
    ]
    arrival = [float(a) for a, _ in rows]
    sender = [((int(ts) - int(rows[0][1])) & 0xFFFFFFFF) / 8000 for _, ts in rows]
    j, js = 0.0, []
    for i in range(1, len(arrival)):
        j += (abs((arrival[i] - arrival[i - 1]) - (sender[i] - sender[i - 1])) - j) / 16
        js.append(j)
    (s,) = an.udp.finalize()
    assert s.jitter_last_ms == pytest.approx(j * 1000, abs=1e-3)
    assert s.jitter_ms.max == pytest.approx(max(js) * 1000, abs=1e-3)
    assert s.jitter_ms.mean == pytest.approx(sum(js) / len(js) * 1000, abs=1e-3)


def test_fragments_against_tshark(scenario: tuple[Path, Analyzers]) -> None:
    path, an = scenario
    rows = _tshark(
        path,
        "-T",
        "fields",
        "-e",
        "ip.flags.mf",
        "-e",
        "ip.frag_offset",
        "-e",
        "ipv6.fraghdr.ident",
        "-e",
        "ip.reassembled.length",
        "-e",
        "ipv6.reassembled.length",
    ).splitlines()
    fields = [r.split("\t") for r in rows]
    frags = sum(1 for f in fields if f[0] == "1" or (f[1] not in ("", "0")) or f[2])
    reassembled = sum(1 for f in fields if f[3] or f[4])
    r = an.fragments.finalize()
    assert (r.fragments, r.reassembled) == (frags, reassembled) == (8, 2)
    assert (r.datagrams, r.incomplete) == (3, 1)
    assert "id 0x2222" in r.incomplete_examples[0] and "missing middle fragment" in r.incomplete_examples[0]


def test_gap_talkers_and_protocols(scenario: tuple[Path, Analyzers]) -> None:
    path, an = scenario
    epochs = [float(x) for x in _tshark(path, "-T", "fields", "-e", "frame.time_epoch").split()]
    gaps = an.gaps.finalize()
    assert an.gaps.max_gap_s == pytest.approx(
        max(b - a for a, b in zip(epochs[:-1], epochs[1:], strict=True)), abs=1e-6
    )
    deltas = [round(b - a, 6) for a, b in zip(epochs[:-1], epochs[1:], strict=True)]
    assert [round(g.duration_s, 6) for g in gaps] == [d for d in deltas if d >= 1.0]
    assert max(g.duration_s for g in gaps) == pytest.approx(GAP_S, abs=1e-6)
    _, tl = an.throughput.finalize()
    assert sum(tl.packets) == len(epochs)
    shares = {s.protocol: s.packets for s in an.protocols.finalize()}
    dns_frames = len(_tshark(path, "-Y", "dns", "-T", "fields", "-e", "frame.number").split())
    # fragments tshark shows as such: all but the frame that completes a reassembled datagram
    v4_filter, v6_filter = "(ip.flags.mf == 1 || ip.frag_offset > 0) && !udp", "ipv6.fraghdr && !udp"
    plain_v4 = len(_tshark(path, "-Y", v4_filter, "-T", "fields", "-e", "frame.number").split())
    plain_v6 = len(_tshark(path, "-Y", v6_filter, "-T", "fields", "-e", "frame.number").split())
    assert shares["Ethernet/IPv4/UDP/DNS"] == dns_frames == 15
    assert (
        (shares["Ethernet/IPv4/Fragment"], shares["Ethernet/IPv6/Fragment"]) == (plain_v4, plain_v6) == (4, 2)
    )
