"""Generated pcapng with unusual timestamp settings: our records agree with tshark's reading of them."""

from __future__ import annotations

import shutil
import struct
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tests.engine.builders import Iface, Rec, write_pcapng
from tests.engine.capture.helpers import read_rows

TSHARK = shutil.which("tshark")


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
@pytest.mark.parametrize("big_endian", [False, True])
def test_timestamps_lengths_and_interfaces_match_tshark(tmp_path: Path, big_endian: bool) -> None:
    ifaces = (
        Iface(linktype=1, tsresol=9, tsoffset=-7),
        Iface(linktype=101, tsresol=0x80 | 20, tsoffset=3600),
        Iface(linktype=113, tsresol=3),
    )
    recs = [
        Rec(
            ts_ns=1_700_000_000_123_456_789 + i * 987_654_321, data=bytes([0x45]) + bytes(19 + i), iface=i % 3
        )
        for i in range(30)
    ]
    recs[4].wirelen = 1500
    p = write_pcapng(tmp_path / "t.pcapng", recs, interfaces=ifaces, big_endian=big_endian, sections=2)
    out = subprocess.run(
        [
            TSHARK or "tshark",
            "-r",
            str(p),
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.cap_len",
            "-e",
            "frame.len",
            "-e",
            "frame.interface_id",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split("\n")
    theirs = [line.split("\t") for line in out if line]
    ours, _ = read_rows(p)
    assert len(ours) == len(theirs) == len(recs)
    for (ts, data, wirelen, linktype), (t_epoch, t_cap, t_len, t_if), r in zip(
        ours, theirs, recs, strict=True
    ):
        assert ts == int(Decimal(t_epoch) * 1_000_000_000)
        assert (len(data), wirelen) == (int(t_cap), int(t_len))
        assert linktype == ifaces[int(t_if)].linktype == ifaces[r.iface].linktype


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
def test_out_of_range_microseconds_read_as_tshark_does(tmp_path: Path) -> None:
    """Classic pcap records whose microsecond field is 1 s or more (damaged or crafted files): Wireshark's
    wiretap multiplies it by 1,000 in 32 bits; our times between records equal tshark's (its relative
    times are normalised, unlike its printed epochs of such records). Valid records come first: wiretap
    guesses the pcap variant from the first ones."""
    base = 1_418_145_369
    fields = [(base, 100), (base, 200_000), (base, 999_999), (base + 1, 1_000_000), (base + 1, 2_147_483_648),
              (base + 1, 500_000)]
    frame = bytes(60)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for sec, usec in fields:
        out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    p = tmp_path / "usec.pcap"
    p.write_bytes(b"".join(out))
    rel = subprocess.run(
        [TSHARK or "tshark", "-r", str(p), "-T", "fields", "-e", "frame.time_relative"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()
    ours, _ = read_rows(p)
    assert len(rel) == len(ours) == len(fields)
    got = [Decimal(ts - ours[0][0]) / Decimal(10**9) for ts, *_ in ours]
    assert got == [Decimal(x) for x in rel]
    assert got[3] > got[2] + 1  # the 1,000,000 us field is a whole second, not wrapped
