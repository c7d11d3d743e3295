"""Every corpus capture read against tshark's facts in oracle.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pcap_analyzer.capture.open import open_capture
from tests.engine.capture.helpers import read_rows

pytestmark = pytest.mark.every_corpus

CAPTURES = [
    "dns_hostile_names.pcap",
    "netns_mixed.pcapng",
    "netns_mixed_nsec.pcap",
    "netns_mixed_s128.pcap",
    "netns_mixed_truncated.pcap",
]


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_facts_match_tshark(name: str, corpus_dir: Path, oracle: dict[str, Any]) -> None:
    facts = oracle[name]["file"]
    n = lt = mx = wire = 0
    first = last = None
    with open_capture(corpus_dir / name) as reader:
        for c in reader:
            n += len(c)
            first = int(c.ts_ns[0]) if first is None else first
            last = int(c.ts_ns[-1])
            lt += int(np.count_nonzero(c.caplen < c.wirelen))
            mx = max(mx, int(c.caplen.max()))
            wire += int(c.wirelen.sum(dtype=np.int64))
    assert n == facts["frames"]
    assert lt == facts["frames_caplen_lt_len"]
    assert mx == facts["max_caplen"]
    assert wire == oracle[name]["throughput"]["bytes"]
    # tshark's epoch has microsecond digits here; every corpus timestamp is a whole microsecond.
    assert first == round(facts["first_epoch"] * 1e6) * 1000
    assert last == round(facts["last_epoch"] * 1e6) * 1000
    assert reader.format == ("pcapng" if facts["format"] == "pcapng" else "pcap")
    assert reader.bytes_total == facts["bytes"] == reader.bytes_done
    assert reader.packets_done == n
    assert reader.truncated == (facts["tshark_exit_status"] != 0)
    assert reader.link_types == [1]


def test_truncated_corpus_file_warns_where_it_was_cut(corpus_dir: Path, oracle: dict[str, Any]) -> None:
    path = corpus_dir / "netns_mixed_truncated.pcap"
    with open_capture(path) as reader:
        last_end = max(c.stream_end for c in reader)
    (w,) = reader.warnings
    assert w.packet_index == oracle["netns_mixed_truncated.pcap"]["file"]["frames"]
    assert w.offset == last_end and w.bytes_left == path.stat().st_size - last_end
    assert "cut short" in w.reason


def test_pcapng_and_nsec_give_the_same_records_as_pcap(corpus_dir: Path) -> None:
    ref, _ = read_rows(corpus_dir / "netns_mixed_s128.pcap")
    assert read_rows(corpus_dir / "netns_mixed.pcapng")[0] == ref
    assert read_rows(corpus_dir / "netns_mixed_nsec.pcap")[0] == ref
