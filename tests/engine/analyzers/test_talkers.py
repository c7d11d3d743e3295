"""TalkersAnalyzer on batches whose byte and frame counts are known by construction.

Conversations come from the real FlowTracker, as in the engine: the analyzer reads tracked traffic from
its table and counts only the packets that belong to no conversation itself.
"""

from __future__ import annotations

from typing import Any

from pcap_analyzer.analyzers.talkers import TalkersAnalyzer
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.packets import L3
from pcap_analyzer.flows.model import FlowTable
from pcap_analyzer.flows.tracker import FlowTracker
from tests.engine.analyzers.batches import batch


def _udp(t: float, src: str, dst: str, sport: int, dport: int, wirelen: int) -> dict[str, Any]:
    return {"t": t, "src": src, "dst": dst, "ip_proto": 17, "ip_len": wirelen - 14, "sport": sport,
            "dport": dport, "wirelen": wirelen}


def _traffic() -> list[list[dict[str, Any]]]:
    a, b, c = "10.0.0.1", "10.0.0.2", "2001:db8::3"
    chunk1 = [
        _udp(1.0, b, a, 5000, 53, 60),  # b starts the a-b pair
        _udp(1.5, a, b, 53, 5000, 1500),
        _udp(2.0, a, b, 6000, 7000, 1500),  # second flow, same pair
        {"t": 2.0, "l3": L3.ARP, "wirelen": 42},  # non-IP
        {"t": 2.5, "src": c, "dst": "ff02::1", "wirelen": 90},  # IP without a conversation (ip_len 0)
    ]
    chunk2 = [
        _udp(3.0, a, b, 6000, 7000, 1000),
        _udp(5.0, b, a, 5000, 53, 70),
        {"t": 6.0, "src": c, "dst": "ff02::1", "wirelen": 90},
        {"t": 6.5, "l3": L3.ARP, "wirelen": 60},
    ]
    return [chunk1, chunk2]


def _feed(an: TalkersAnalyzer) -> FlowTable:
    tracker, frame = FlowTracker(), 1
    for rows in _traffic():
        packets = batch(rows, first_frame=frame).packets
        an.update(PacketBatch(packets, tracker.assign(packets)))
        frame += len(rows)
    return tracker.table()


def test_talkers_and_conversations_across_chunks() -> None:
    an = TalkersAnalyzer(top_n=10)
    flows = _feed(an)
    assert len(flows) == 2
    talkers, convs = an.finalize(flows)
    got = {t.address: (t.bytes, t.packets, t.bytes_received, t.packets_received) for t in talkers}
    assert got == {
        "10.0.0.1": (4000, 3, 130, 2),
        "10.0.0.2": (130, 2, 4000, 3),
        "2001:db8::3": (180, 2, 0, 0),
        "non-ip": (102, 2, 102, 2),
    }
    assert [t.address for t in talkers] == ["10.0.0.1", "2001:db8::3", "10.0.0.2", "non-ip"]
    ab = convs[0]
    assert (ab.a, ab.b, ab.packets, ab.bytes, ab.bytes_ab, ab.bytes_ba) == (
        "10.0.0.2",
        "10.0.0.1",
        5,
        4130,
        130,
        4000,
    )
    assert (ab.first_ts, ab.duration_s) == (1.0, 4.0)
    assert ab.throughput_bps == 4130 * 8 / 4.0
    assert [(c.a, c.b, c.bytes, c.packets) for c in convs[1:]] == [
        ("2001:db8::3", "ff02::1", 180, 2),
        ("non-ip", "non-ip", 102, 2),
    ]


def test_top_n_caps_lists_and_empty_input() -> None:
    an = TalkersAnalyzer(top_n=1)
    assert an.finalize() == ([], [])
    talkers, convs = an.finalize(_feed(an))
    assert len(talkers) == 1 and len(convs) == 1 and an.limits()["top_talkers"] == 1
