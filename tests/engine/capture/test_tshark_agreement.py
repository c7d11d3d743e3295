"""Generated pcapng with unusual timestamp settings: our records agree with tshark's reading of them."""

from __future__ import annotations

import shutil
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
