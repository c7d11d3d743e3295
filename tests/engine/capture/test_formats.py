"""Generated captures of every supported layout read back exactly as written."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from pcap_analyzer.capture.open import open_capture
from tests.engine.builders import (
    Iface,
    Rec,
    compress,
    records_from_scapy,
    write_pcap,
    write_pcapng,
)
from tests.engine.capture.helpers import read_rows


def sample_records(n: int = 40) -> list[Rec]:
    pkts = [
        Ether() / IP(dst=f"10.0.0.{i % 250 + 1}") / TCP(sport=1000 + i) / (b"x" * (i * 7 % 300))
        for i in range(n)
    ]
    recs = records_from_scapy(pkts, step_ns=1_234_567)
    recs[3].wirelen = len(recs[3].data) + 1000  # a snaplen cut
    return recs


def expected(recs: list[Rec], linktype: int = 1, us: bool = False) -> list[tuple[int, bytes, int, int]]:
    return [((r.ts_ns // 1000 * 1000) if us else r.ts_ns, r.data, r.origlen, linktype) for r in recs]


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nsec", [False, True])
def test_pcap_byte_orders_and_resolutions(tmp_path: Path, big_endian: bool, nsec: bool) -> None:
    recs = sample_records()
    p = write_pcap(tmp_path / "a.pcap", recs, nsec=nsec, big_endian=big_endian, snaplen=65535)
    rows, reader = read_rows(p)
    assert rows == expected(recs, us=not nsec)
    assert (reader.format, reader.compression, reader.link_types, reader.snaplen) == (
        "pcap",
        None,
        [1],
        65535,
    )
    assert not reader.truncated and reader.warnings == []


def test_modified_pcap_and_other_linktype(tmp_path: Path) -> None:
    recs = records_from_scapy([IPv6() / UDP() / b"abc", IP() / UDP()])
    p = write_pcap(tmp_path / "k.pcap", recs, linktype=101, kuznetzov=True, big_endian=True)
    assert read_rows(p)[0] == expected(recs, linktype=101, us=True)


@pytest.mark.parametrize("big_endian", [False, True])
def test_pcapng_sections_interfaces_resolutions_offset(tmp_path: Path, big_endian: bool) -> None:
    ifaces = (Iface(linktype=1, tsresol=9), Iface(linktype=101, tsresol=0x80 | 20, tsoffset=3600))
    recs = sample_records(30)
    for i, r in enumerate(recs):
        r.iface = i % 2
        if r.iface == 1:
            r.data = bytes(IP() / UDP() / (b"y" * i))
            r.wirelen = None
    unknown = [(0x0BAD, b"\x01\x02\x03\x04\x05"), (0x80000001, b"")]  # unknown / custom: skipped by length
    p = write_pcapng(
        tmp_path / "a.pcapng",
        recs,
        interfaces=ifaces,
        big_endian=big_endian,
        sections=2,
        extra_blocks=unknown,
    )
    rows, reader = read_rows(p)
    want = [
        (ifaces[r.iface].ts_ns(ifaces[r.iface].ticks(r.ts_ns)), r.data, r.origlen, ifaces[r.iface].linktype)
        for r in recs
    ]
    assert rows == want
    assert any(ts % 1000 for ts, *_ in rows)  # 2^-20 s ticks are not whole microseconds
    assert reader.format == "pcapng" and reader.link_types == [1, 101]
    assert not reader.truncated


def test_pcapng_opb(tmp_path: Path) -> None:
    recs = sample_records(10)
    p = write_pcapng(tmp_path / "o.pcapng", recs, block="opb")
    assert read_rows(p)[0] == expected(recs, us=True)


def test_pcapng_spb_takes_previous_timestamp(tmp_path: Path) -> None:
    recs = sample_records(6)
    for r in recs:
        r.wirelen = None
    epb = write_pcapng(tmp_path / "e.pcapng", recs[:1]).read_bytes()
    spb = write_pcapng(tmp_path / "s.pcapng", recs[1:], block="spb").read_bytes()
    shb_idb_len = len(write_pcapng(tmp_path / "h.pcapng", []).read_bytes())
    p = tmp_path / "mix.pcapng"
    p.write_bytes(epb + spb[shb_idb_len:])
    rows, _ = read_rows(p)
    t0 = recs[0].ts_ns // 1000 * 1000
    assert rows == [(t0, r.data, r.origlen, 1) for r in recs]


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_compressed(tmp_path: Path, kind: str, fmt: str) -> None:
    recs = sample_records(200)
    p = (write_pcap if fmt == "pcap" else write_pcapng)(tmp_path / f"c.{fmt}", recs)
    plain, _ = read_rows(p)
    c = compress(p, kind)
    rows, reader = read_rows(c)
    assert rows == plain == expected(recs, us=True)
    assert reader.compression == kind and reader.format == fmt
    assert reader.bytes_done == reader.bytes_total == c.stat().st_size
    assert not reader.truncated


@pytest.mark.parametrize("kind", [None, "gzip", "zstd"])
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_tiny_chunks_give_the_same_records(tmp_path: Path, kind: str | None, fmt: str) -> None:
    recs = sample_records(120)
    p = (write_pcap if fmt == "pcap" else write_pcapng)(tmp_path / f"c.{fmt}", recs)
    if kind:
        p = compress(p, kind)
    big, _ = read_rows(p)
    for chunk_bytes in (1, 100, 1000, 4099):
        with open_capture(p, chunk_bytes=chunk_bytes) as reader:
            chunks = list(reader)
        assert len(chunks) > 1
        assert [c.first_index for c in chunks] == [
            sum(len(x) for x in chunks[:i]) for i in range(len(chunks))
        ]
        assert all(a.stream_end == b.stream_start for a, b in zip(chunks, chunks[1:], strict=False))
        assert read_rows(p, chunk_bytes=chunk_bytes)[0] == big


def test_chunks_kept_after_reading_still_hold_their_packets(tmp_path: Path) -> None:
    # The reader drops consumed pages of the file map from memory; a chunk kept by a caller must stay valid.
    recs = sample_records(400)
    p = write_pcap(tmp_path / "keep.pcap", recs, nsec=True)
    with open_capture(p, chunk_bytes=5000) as reader:
        chunks = list(reader)
    rows = [
        (
            int(c.ts_ns[i]),
            bytes(c.buf[c.data_offset[i] : c.data_offset[i] + c.caplen[i]]),
            int(c.wirelen[i]),
            1,
        )
        for c in chunks
        for i in range(len(c))
    ]
    assert rows == expected(recs)


def test_pcapng_link_types_known_when_opened(tmp_path: Path) -> None:
    p = write_pcapng(
        tmp_path / "l.pcapng", sample_records(5), interfaces=(Iface(linktype=113), Iface(linktype=1))
    )
    with open_capture(p) as reader:
        assert reader.link_types == [1, 113]


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_multi_member_compressed_stream(tmp_path: Path, kind: str) -> None:
    import gzip

    import zstandard

    recs = sample_records(50)
    raw = write_pcap(tmp_path / "m.pcap", recs).read_bytes()
    cut = len(raw) // 3 + 5  # members split mid-record
    pack = gzip.compress if kind == "gzip" else zstandard.ZstdCompressor().compress
    p = tmp_path / "m.pcap.z"
    p.write_bytes(pack(raw[:cut]) + pack(raw[cut:]))
    rows, reader = read_rows(p, chunk_bytes=700)
    assert rows == expected(recs, us=True) and not reader.truncated
