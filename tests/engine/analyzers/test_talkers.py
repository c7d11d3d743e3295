"""TalkersAnalyzer on batches whose byte and frame counts are known by construction."""

from __future__ import annotations

from pcap_analyzer.analyzers.talkers import TalkersAnalyzer
from pcap_analyzer.decode.packets import L3
from tests.engine.analyzers.batches import batch


def _traffic() -> list[list[dict[str, object]]]:
    a, b, c = "10.0.0.1", "10.0.0.2", "2001:db8::3"
    chunk1 = [
        {"t": 1.0, "src": b, "dst": a, "wirelen": 60, "conv": 0, "direction": 0},  # b starts the a-b pair
        {"t": 1.5, "src": a, "dst": b, "wirelen": 1500, "conv": 0, "direction": 1},
        {"t": 2.0, "src": a, "dst": b, "wirelen": 1500, "conv": 1, "direction": 0},  # second flow, same pair
        {"t": 2.0, "l3": L3.ARP, "wirelen": 42},  # non-IP
        {"t": 2.5, "src": c, "dst": "ff02::1", "wirelen": 90},  # untracked IP (no conversation)
    ]
    chunk2 = [
        {"t": 3.0, "src": a, "dst": b, "wirelen": 1000, "conv": 1, "direction": 0},
        {"t": 5.0, "src": b, "dst": a, "wirelen": 70, "conv": 0, "direction": 0},
        {"t": 6.0, "src": c, "dst": "ff02::1", "wirelen": 90},
        {"t": 6.5, "l3": L3.ARP, "wirelen": 60},
    ]
    return [chunk1, chunk2]


def test_talkers_and_conversations_across_chunks() -> None:
    an = TalkersAnalyzer(top_n=10)
    frame = 1
    for rows in _traffic():
        an.update(batch(rows, first_frame=frame))
        frame += len(rows)
    talkers, convs = an.finalize()
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
    for rows in _traffic():
        an.update(batch(rows))
    talkers, convs = an.finalize()
    assert len(talkers) == 1 and len(convs) == 1 and an.limits()["top_talkers"] == 1
