"""Every analyzer accepts empty chunks and finalizes to empty results."""

from __future__ import annotations

from pcap_analyzer.report.model import DnsSummary, Fragmentation, Throughput, Timeline
from tests.engine.analyzers.batches import batch
from tests.engine.analyzers.pipeline import Analyzers


def test_empty_chunks_give_empty_results() -> None:
    an = Analyzers()
    an.update(batch([]))
    an.update(batch([]))
    assert an.dns.finalize() == DnsSummary()
    assert an.udp.finalize() == []
    assert an.gaps.finalize() == [] and an.gaps.max_gap_s == 0.0
    assert an.bursts.finalize() == []
    assert an.fragments.finalize() == Fragmentation()
    assert an.protocols.finalize() == []
    assert an.talkers.finalize() == ([], [])
    assert an.throughput.finalize() == (Throughput(), Timeline())
    assert an.dns.series() == []
