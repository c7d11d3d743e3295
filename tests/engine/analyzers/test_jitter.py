"""UdpStreamAnalyzer against the RFC 3550 estimator written out from the oracle's definition."""

from __future__ import annotations

import statistics
import struct

import numpy as np
import pytest

from pcap_analyzer.analyzers.jitter import UdpStreamAnalyzer
from pcap_analyzer.batch import PacketBatch
from tests.engine.analyzers.batches import batch


def reference_jitter(times: list[float], nominal: list[float] | float) -> tuple[float, float, float]:
    """oracle.json "udp jitter": J_i = J_{i-1} + (|D_i| - J_{i-1}) / 16; final, mean, max (ms) of J_2..J_n.

    Inputs are float seconds; the engine sees integer ns, hence the 1e-6 ms tolerances below.
    """
    j, js = 0.0, []
    for i in range(1, len(times)):
        expected = nominal if isinstance(nominal, float) else nominal[i] - nominal[i - 1]
        j += (abs((times[i] - times[i - 1]) - expected) - j) / 16.0
        js.append(j)
    return j * 1000, statistics.fmean(js) * 1000, max(js) * 1000


def _stream(
    times: list[float], payloads: list[bytes], conv: int, sport: int = 4000, dport: int = 5004
) -> list[tuple[dict[str, object], bytes]]:
    return [
        (
            {
                "t": t,
                "src": "10.0.0.1",
                "dst": "10.0.0.2",
                "ip_proto": 17,
                "sport": sport,
                "dport": dport,
                "l4_offset": 34,
                "caplen": 42 + len(pl),
                "payload_len": len(pl),
                "conv": conv,
                "direction": 0,
            },
            pl,
        )
        for t, pl in zip(times, payloads, strict=True)
    ]


def _batches(packets: list[tuple[dict[str, object], bytes]], chunk: int) -> list[PacketBatch]:
    packets = sorted(packets, key=lambda x: x[0]["t"])  # type: ignore[arg-type,return-value]
    out = []
    for s in range(0, len(packets), chunk):
        rows, buf = [], b""
        for row, pl in packets[s : s + chunk]:
            rows.append(dict(row, data_offset=len(buf)))
            buf += bytes(42) + pl
        out.append(batch(rows, buf, first_frame=s + 1))
    return out


def _rtp(n: int, lost: int) -> tuple[list[float], list[int], list[bytes]]:
    rng = np.random.default_rng(7)
    seqs = [s for s in range(65530, 65530 + n + 1) if s != 65530 + lost]  # wraps past 65535
    rtp_ts = [(1_000_000 + 160 * (s - 65530)) & 0xFFFFFFFF for s in seqs]
    times = [10.0 + (s - 65530) * 0.02 + float(rng.uniform(0, 0.004)) for s in seqs]
    pls = [
        struct.pack("!BBHII", 0x80, 0, s & 0xFFFF, ts, 0xABCD) + bytes(160)
        for s, ts in zip(seqs, rtp_ts, strict=True)
    ]
    return times, rtp_ts, pls


@pytest.mark.parametrize("chunk", [1000, 7])
def test_rtp_stream_uses_rtp_timestamps_and_counts_loss(chunk: int) -> None:
    times, rtp_ts, pls = _rtp(60, lost=9)
    an = UdpStreamAnalyzer()
    for b in _batches(_stream(times, pls, conv=0), chunk):
        an.update(b)
    (s,) = an.finalize()
    final, mean, mx = reference_jitter(times, [(t - rtp_ts[0]) / 8000 for t in rtp_ts])
    assert s.rtp_like and s.rtp_lost == 1 and s.jitter_method == "rtp_timestamp"
    assert (s.packets, s.bytes, s.first_frame) == (60, 60 * 172, 1)
    assert s.jitter_last_ms == pytest.approx(final, abs=1e-6)
    assert s.jitter_ms.mean == pytest.approx(mean, abs=1e-6) and s.jitter_ms.max == pytest.approx(
        mx, abs=1e-6
    )
    assert s.jitter_ms.count == 59


@pytest.mark.parametrize(("chunk", "buffer"), [(1000, 1024), (5, 1024), (5, 16)])
def test_plain_udp_capture_time_jitter(chunk: int, buffer: int) -> None:
    rng = np.random.default_rng(3)
    times = list(np.cumsum(rng.choice([0.010, 0.0102, 0.011, 0.013], size=80)))
    pls = [b"x" * 100] * 80
    short = _stream([float(t) for t in times[:19]], pls[:19], conv=1, sport=6000)  # < 20 packets: not listed
    dns = _stream([float(t) for t in times[:30]], pls[:30], conv=2, sport=7000, dport=53)
    an = UdpStreamAnalyzer(buffer=buffer)
    for b in _batches(_stream([float(t) for t in times], pls, conv=0) + short + dns, chunk):
        an.update(b)
    (s,) = an.finalize()
    deltas = np.diff(times)
    nominal = float(np.percentile(deltas[:buffer], 50))
    final, mean, mx = reference_jitter([float(t) for t in times], nominal)
    assert not s.rtp_like and s.rtp_lost is None and s.jitter_method == "capture_time"
    assert s.jitter_last_ms == pytest.approx(final, abs=1e-6) and s.jitter_ms.max == pytest.approx(
        mx, abs=1e-6
    )
    assert s.jitter_ms.mean == pytest.approx(mean, abs=1e-6)
    assert (s.src, s.src_port, s.dst, s.dst_port, s.packets) == ("10.0.0.1", 4000, "10.0.0.2", 5004, 80)


def test_flow_cap_counts_untracked_packets() -> None:
    times = [i * 0.02 for i in range(25)]
    an = UdpStreamAnalyzer(max_flows=1)
    pkts = _stream(times, [b"y"] * 25, conv=0) + _stream(times, [b"y"] * 25, conv=1, sport=4001)
    for b in _batches(pkts, 1000):
        an.update(b)
    assert len(an.finalize()) == 1 and an.limits()["udp_untracked_packets"] == 25
