"""The decoder against tshark on the real corpus capture (snaplen 128: most packets are cut)."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pcap_analyzer.capture.open import open_capture
from pcap_analyzer.decode import decode_chunk
from pcap_analyzer.decode.packets import PacketTable

pytestmark = pytest.mark.every_corpus

CAPTURE = "netns_mixed_s128.pcap"
FIELDS = [
    "frame.number",
    "ip.src",
    "ip.dst",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.window_size_value",
    "tcp.len",
    "tcp.flags",
    "tcp.hdr_len",
    "dns.id",
    "dns.qry.type",
]


def _decode_all(path: Path) -> list[PacketTable]:
    with open_capture(path) as reader:
        return [decode_chunk(chunk) for chunk in reader]


@pytest.fixture(scope="module")
def tables(corpus_dir: Path) -> list[PacketTable]:
    return _decode_all(corpus_dir / CAPTURE)


def _column(tables: list[PacketTable], name: str) -> np.ndarray:
    return np.concatenate([getattr(t, name) for t in tables])


def test_counts_match_oracle(tables: list[PacketTable], oracle: dict[str, Any]) -> None:
    facts = oracle[CAPTURE]
    proto = _column(tables, "ip_proto")
    tcp = (proto == 6) & (_column(tables, "l4_offset") > 0)
    assert len(proto) == facts["file"]["frames"]
    assert int(tcp.sum()) == facts["tcp"]["frames"]
    assert int(_column(tables, "payload_len")[tcp].sum()) == facts["tcp"]["payload_bytes"]
    flags = _column(tables, "tcp_flags")
    assert int(((flags & 0x12) == 0x02)[tcp].sum()) == facts["tcp"]["syn_frames"]
    assert int(((flags & 0x12) == 0x12)[tcp].sum()) == facts["tcp"]["synack_frames"]
    assert int((flags & 0x04 > 0)[tcp].sum()) == facts["tcp"]["rst_frames"]
    is_dns = _column(tables, "is_dns")
    qr = (_column(tables, "dns_flags") & 0x8000) > 0
    assert int((is_dns & ~qr).sum()) == facts["dns"]["queries"]
    assert int((is_dns & qr).sum()) == facts["dns"]["responses"]


def test_every_packet_agrees_with_tshark(tables: list[PacketTable], corpus_dir: Path) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark not installed")
    cmd = ["tshark", "-r", str(corpus_dir / CAPTURE), "-T", "fields", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    rows = [
        line.split("\t")
        for line in subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    ]
    cols = {
        name: _column(tables, name)
        for name in (
            "src_lo",
            "dst_lo",
            "sport",
            "dport",
            "seq",
            "ack",
            "win",
            "payload_len",
            "tcp_flags",
            "tcp_hdr_len",
            "dns_id",
            "is_dns",
            "dns_qtype",
        )
    }
    ours = {
        "ip.src": lambda i: str(ipaddress.IPv4Address(int(cols["src_lo"][i]) & 0xFFFF_FFFF)),
        "ip.dst": lambda i: str(ipaddress.IPv4Address(int(cols["dst_lo"][i]) & 0xFFFF_FFFF)),
        "tcp.srcport": lambda i: str(cols["sport"][i]),
        "tcp.dstport": lambda i: str(cols["dport"][i]),
        "udp.srcport": lambda i: str(cols["sport"][i]),
        "udp.dstport": lambda i: str(cols["dport"][i]),
        "tcp.seq_raw": lambda i: str(cols["seq"][i]),
        "tcp.ack_raw": lambda i: str(cols["ack"][i]),
        "tcp.window_size_value": lambda i: str(cols["win"][i]),
        "tcp.len": lambda i: str(cols["payload_len"][i]),
        "tcp.flags": lambda i: f"0x{int(cols['tcp_flags'][i]):04x}",
        "tcp.hdr_len": lambda i: str(cols["tcp_hdr_len"][i]),
        "dns.id": lambda i: f"0x{int(cols['dns_id'][i]):04x}",
        "dns.qry.type": lambda i: str(cols["dns_qtype"][i]),
    }
    assert len(rows) == len(cols["sport"])
    mismatches: list[tuple[int, str, str, str]] = []
    dns_frames = 0
    for row in rows:
        i = int(row[0]) - 1
        for name, value in zip(FIELDS[1:], row[1:], strict=False):
            if value and ours[name](i) != value:
                mismatches.append((i + 1, name, value, ours[name](i)))
        dns_frames += bool(row[FIELDS.index("dns.id")])
    assert mismatches[:10] == []
    assert dns_frames == int(cols["is_dns"].sum())


@pytest.mark.parametrize("other", ["netns_mixed.pcapng", "netns_mixed_nsec.pcap"])
def test_same_packets_in_other_formats_decode_identically(
    tables: list[PacketTable], corpus_dir: Path, other: str
) -> None:
    others = _decode_all(corpus_dir / other)
    for name in (
        "undecoded",
        "src_lo",
        "dst_lo",
        "sport",
        "dport",
        "seq",
        "ack",
        "tcp_flags",
        "payload_len",
        "mss",
        "wscale",
        "ts_val",
        "sack_count",
        "dns_id",
        "dns_qtype",
        "frame",
    ):
        assert np.array_equal(_column(others, name), _column(tables, name)), name
