"""More link layers decoded down to IP: 802.3 with LLC/SNAP, FDDI, Cisco HDLC, IEEE 802.11 data frames bare,
with radiotap and with PPI. The IP packets of a real capture (tests/data) are framed with each link type,
analysed, and compared with tshark on the same file; 802.11 frames with no IP in them (management, control,
encrypted data) are counted as not analysed, by kind."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from scapy.layers.dot11 import Dot11, Dot11QoS, RadioTap
from scapy.layers.l2 import LLC, SNAP, Dot3
from scapy.layers.ppi import PPI
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

from pcap_analyzer.api import analyze
from tests.engine.decode.test_tunnels import _inner, _l3, analysed_as_tshark

TSHARK = shutil.which("tshark")
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def _snap(p: Packet) -> Packet:
    ethertype = 0x0800 if _l3(p).version == 4 else 0x86DD
    return LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=ethertype) / _l3(p)


def _wlan(p: Packet) -> Packet:
    header = Dot11(type=2, subtype=8, FCfield="to_DS", addr1=MAC_B, addr2=MAC_A, addr3=MAC_B)
    return header / Dot11QoS() / _snap(p)


# name -> (linktype, framing)
FRAMINGS: dict[str, tuple[int, Callable[[Packet], bytes]]] = {
    "llc_snap": (1, lambda p: bytes(Dot3(src=MAC_A, dst=MAC_B) / _snap(p))),
    # FDDI: frame control (LLC, async), destination, source; then LLC/SNAP
    "fddi": (10, lambda p: b"\x50" + bytes(6) + bytes(6) + bytes(_snap(p))),
    # Cisco HDLC: address (unicast), control, protocol = EtherType
    "c_hdlc": (104, lambda p: b"\x0f\x00" + struct.pack("!H", 0x0800 if _l3(p).version == 4 else 0x86DD)
               + bytes(_l3(p))),
    "wlan": (105, lambda p: bytes(_wlan(p))),
    "radiotap": (127, lambda p: bytes(RadioTap() / _wlan(p))),
    "ppi": (192, lambda p: bytes(PPI(dlt=105) / _wlan(p))),
}


def _write(path: Path, name: str) -> Path:
    linktype, frame = FRAMINGS[name]
    packets = []
    for p in _inner():
        f = Raw(frame(p))
        f.time = p.time
        packets.append(f)
    wrpcap(str(path), packets, linktype=linktype)
    return path


@pytest.mark.skipif(TSHARK is None, reason="tshark not installed")
@pytest.mark.parametrize("name", sorted(FRAMINGS))
def test_link_type_analysed_as_tshark(tmp_path: Path, name: str) -> None:
    analysed_as_tshark(_write(tmp_path / f"{name}.pcap", name))


def test_wlan_frames_without_ip_are_counted_as_not_analysed_by_kind(tmp_path: Path) -> None:
    inner = _inner()[:10]
    frames = [RadioTap() / _wlan(p) for p in inner]  # 10 data frames with IP
    beacon = RadioTap() / Dot11(type=0, subtype=8, addr1="ff:ff:ff:ff:ff:ff", addr2=MAC_A, addr3=MAC_A)
    ack = RadioTap() / Dot11(type=1, subtype=13, addr1=MAC_A)
    protected = RadioTap() / Dot11(type=2, subtype=0, FCfield="to_DS+protected", addr1=MAC_B, addr2=MAC_A,
                                   addr3=MAC_B) / Raw(bytes(64))
    frames += [beacon] * 3 + [ack] * 2 + [protected] * 5
    for k, f in enumerate(frames):
        f.time = 1_700_000_000 + k * 0.001
    path = tmp_path / "wlan_mixed.pcap"
    wrpcap(str(path), frames)
    r = analyze(path)
    assert r.capture.packets == 20 and r.capture.not_analysed_packets == 10
    kinds = {g.protocol: g.packets for g in r.capture.not_analysed}
    assert kinds == {"802.11 management": 3, "802.11 control": 2, "802.11 encrypted data": 5}
