"""The committed test captures and their oracle agree with each other (tests/data)."""

from __future__ import annotations

import json

from tests.conftest import CAPTURES, DATA_DIR


def test_the_oracle_covers_exactly_the_committed_captures() -> None:
    oracle = json.loads((DATA_DIR / "oracle.json").read_text())
    assert sorted(oracle["captures"]) == CAPTURES
    assert oracle["tshark_version"].startswith("TShark (Wireshark) ")
    for name, facts in oracle["captures"].items():
        assert facts["file"]["bytes"] == (DATA_DIR / name).stat().st_size, name


def test_the_truncated_capture_is_a_cut_prefix_of_the_full_one() -> None:
    full = (DATA_DIR / "netns_mixed_s128.pcap").read_bytes()
    cut = (DATA_DIR / "netns_mixed_truncated.pcap").read_bytes()
    assert len(cut) < len(full) and full.startswith(cut)


def test_the_captures_stay_small() -> None:
    assert sum((DATA_DIR / name).stat().st_size for name in CAPTURES) < 8 << 20
