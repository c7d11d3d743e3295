"""FragmentAnalyzer and ProtocolAnalyzer on hand-built columns."""

from __future__ import annotations

from pcap_analyzer.analyzers.fragments import FragmentAnalyzer
from pcap_analyzer.analyzers.protocols import ProtocolAnalyzer
from pcap_analyzer.decode.packets import FRAG_IS_FRAGMENT, FRAG_MORE, L3, Undecoded
from tests.engine.analyzers.batches import batch

MF = FRAG_IS_FRAGMENT | FRAG_MORE
LAST = FRAG_IS_FRAGMENT


def _frag(src: str, ident: int, off: int, data: int, flags: int, v6: bool = False) -> dict[str, object]:
    dst = "2001:db8::2" if v6 else "10.0.0.2"
    return {
        "src": src,
        "dst": dst,
        "ip_proto": 17,
        "ip_id": ident,
        "frag_offset": off,
        "frag": flags,
        "ip_len": data + (48 if v6 else 20),
    }


def test_complete_and_incomplete_datagrams() -> None:
    rows = [
        _frag("10.0.0.1", 7, 0, 1480, MF),
        _frag("10.0.0.1", 7, 1480, 1480, MF),  # complete, 3 fragments
        _frag("10.0.0.1", 8, 0, 1480, MF),  # id 8: middle lost
        _frag("2001:db8::1", 7, 1448, 100, LAST, v6=True),  # v6: out of order
    ]
    more = [
        _frag("10.0.0.1", 7, 2960, 40, LAST),
        _frag("10.0.0.1", 8, 2960, 40, LAST),
        _frag("2001:db8::1", 7, 0, 1448, MF, v6=True),
        _frag("10.0.0.9", 7, 0, 100, MF),  # no last fragment
        {"src": "10.0.0.1", "dst": "10.0.0.2", "ip_proto": 6},  # not a fragment
    ]
    an = FragmentAnalyzer()
    an.update(batch(rows))
    an.update(batch(more, first_frame=5))
    r = an.finalize()
    assert (r.fragments, r.datagrams, r.reassembled, r.incomplete) == (8, 4, 2, 2)
    assert r.incomplete_examples == [
        "IPv4 10.0.0.1 -> 10.0.0.2 proto 17 id 0x8: 2 fragment(s), missing middle fragment (frames 3, 6)",
        "IPv4 10.0.0.9 -> 10.0.0.2 proto 17 id 0x7: 1 fragment(s), no last fragment (frames 8)",
    ]


def test_protocol_hierarchy_counts() -> None:
    rows = [
        {"src": "10.0.0.1", "dst": "10.0.0.2", "ip_proto": 6, "wirelen": 100},
        {"src": "10.0.0.1", "dst": "10.0.0.2", "ip_proto": 17, "is_dns": True, "wirelen": 80},
        {
            "src": "10.0.0.1",
            "dst": "10.0.0.2",
            "ip_proto": 17,
            "wirelen": 70,
            "undecoded": Undecoded.NON_FIRST_FRAGMENT,
        },
        {"src": "2001:db8::1", "dst": "2001:db8::2", "ip_proto": 58, "wirelen": 90},
        {"l3": L3.ARP, "wirelen": 42},
        {"l3": L3.NONE, "linktype": 113, "wirelen": 10},
    ]
    an = ProtocolAnalyzer()
    an.update(batch(rows))
    got = {s.protocol: (s.packets, s.bytes) for s in an.finalize()}
    assert got == {
        "Ethernet": (5, 382),
        "Ethernet/IPv4": (3, 250),
        "Ethernet/IPv4/TCP": (1, 100),
        "Ethernet/IPv4/UDP": (1, 80),
        "Ethernet/IPv4/UDP/DNS": (1, 80),
        "Ethernet/IPv4/Fragment": (1, 70),
        "Ethernet/IPv6": (1, 90),
        "Ethernet/IPv6/ICMPv6": (1, 90),
        "Ethernet/ARP": (1, 42),
        "Linux SLL": (1, 10),
    }
    order = [s.protocol for s in an.finalize()]
    assert order.index("Ethernet/IPv4/TCP") < order.index("Ethernet/IPv6") < order.index("Linux SLL")


def test_hierarchy_of_bsd_loopback_capture() -> None:
    an = ProtocolAnalyzer()
    b = batch([{"src": "127.0.0.1", "dst": "127.0.0.1", "ip_proto": 6} for _ in range(3)])
    b.packets.linktype[:] = 0
    b.packets.l3[:] = L3.IPV4
    an.update(b)
    names = [s.protocol for s in an.finalize()]
    assert names == ["Null (loopback)", "Null (loopback)/IPv4", "Null (loopback)/IPv4/TCP"]
