"""UDP streams: RFC 3550 interarrival jitter per one-way flow, RTP detection and sequence loss."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers import jitter_kernel as K
from pcap_analyzer.analyzers.common import NS, format_addr, grow
from pcap_analyzer.batch import PacketBatch
from pcap_analyzer.decode.packets import PacketTable
from pcap_analyzer.report.model import Stats, UdpStream

RTP_8KHZ_PAYLOAD_TYPES = frozenset(K.RTP_8KHZ)
_UDP = 17
_DNS_PORTS = (53, 5353, 5355)
_UNSEEN, _UNTRACKED = -1, -2


class UdpStreamAnalyzer:
    """Jitter of each one-way UDP flow (DNS excluded) with at least `min_packets` packets.

    Capture-time estimator (oracle "udp jitter"): D_i = (a_i - a_{i-1}) - T, T the median inter-arrival
    time. T needs the whole flow, so it is taken over the first `buffer` inter-arrival times (exact for
    flows up to `buffer` + 1 packets), after which J is computed as packets stream by. A flow whose every
    packet has an RTP version-2 header with one SSRC is RTP-like: sequence gaps give `rtp_lost`
    (expected - received, as tshark), and for an 8 kHz payload type J uses the RTP timestamps,
    D_i = (a_i - a_{i-1}) - (ts_i - ts_{i-1}) / 8000 (RFC 3550). State is a few arrays per flow (one
    Numba pass per chunk); at most `max_flows` flows are tracked, and J's median/p95 come from at most
    `samples` evenly spread values per flow (count/mean/max/last are exact). `bytes` is UDP payload
    bytes (the oracle's udp_payload_bytes).
    """

    def __init__(
        self,
        *,
        min_packets: int = 20,
        buffer: int = 1024,
        max_flows: int = 2000,
        max_streams: int = 100,
        samples: int = 512,
    ) -> None:
        self.min_packets, self.buffer, self.max_flows = min_packets, buffer, max_flows
        self.max_streams, self.samples = max_streams, samples
        self._slot_of = np.zeros(0, np.int64)  # conv * 2 + direction -> slot
        self._n = 0
        self._addr = np.zeros((0, 6), np.uint64)  # src hi, lo, port, dst hi, lo, port
        self._ints, self._floats, self._pend, self._samp = K.new_state(0, buffer, samples)
        self.untracked_packets = 0

    def update(self, batch: PacketBatch) -> None:
        """Add one chunk (slot lookup vectorized, then one kernel pass in capture order)."""
        p, f = batch.packets, batch.flows
        sel = (p.ip_proto == _UDP) & (p.l4_offset > 0) & (f.conv >= 0) & ~p.is_dns
        for port in _DNS_PORTS:
            sel &= (p.sport != port) & (p.dport != port)
        idx = np.flatnonzero(sel)
        if idx.size == 0:
            return
        key = f.conv[idx] * 2 + f.direction[idx]
        slot = self._slots(p, idx, key)
        self.untracked_packets += int(np.count_nonzero(slot == _UNTRACKED))
        ok, pt, seq, rts, ssrc = _rtp_fields(
            p.buf,
            p.data_offset[idx] + p.l4_offset[idx] + 8,
            p.caplen[idx].astype(np.int64) - p.l4_offset[idx] - 8,
        )
        K.run(
            slot,
            p.ts_ns[idx],
            p.payload_len[idx].astype(np.int64),
            p.frame[idx],
            ok,
            pt,
            seq,
            rts,
            ssrc,
            self._ints,
            self._floats,
            self._pend,
            self._samp,
        )

    def _slots(
        self, p: PacketTable, idx: npt.NDArray[np.intp], key: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        """Slot of each packet's flow; new flows get the next slots, in order of first packet."""
        self._slot_of = grow(self._slot_of, int(key.max()) + 1, _UNSEEN)
        slot = self._slot_of[key]
        new = slot == _UNSEEN
        if new.any():
            uk, first = np.unique(key[new], return_index=True)
            order = np.argsort(first)
            uk, at = uk[order], idx[np.flatnonzero(new)[first[order]]]
            room = max(0, self.max_flows - self._n)
            take = min(room, uk.size)
            self._slot_of[uk[take:]] = _UNTRACKED
            if take:
                self._grow(self._n + take)
                self._slot_of[uk[:take]] = np.arange(self._n, self._n + take)
                a = at[:take]
                cols = (p.src_hi, p.src_lo, p.sport, p.dst_hi, p.dst_lo, p.dport)
                self._addr[self._n : self._n + take] = np.stack(
                    [c[a].astype(np.uint64) for c in cols], axis=1
                )
                self._n += take
            slot = self._slot_of[key]
        return slot

    def _grow(self, n: int) -> None:
        if n <= self._ints.shape[0]:
            return
        size = min(max(n, 2 * self._ints.shape[0], 16), self.max_flows)
        fresh = K.new_state(size - self._ints.shape[0], self.buffer, self.samples)
        self._ints, self._floats, self._pend, self._samp = (
            np.concatenate([old, new])
            for old, new in zip((self._ints, self._floats, self._pend, self._samp), fresh, strict=True)
        )
        self._addr = grow(self._addr, size)

    def finalize(self) -> list[UdpStream]:
        """Flows with at least `min_packets` packets, most packets first."""
        ints, floats = self._ints, self._floats
        out = []
        pk = ints[: self._n, K.PKTS]
        order = np.lexsort((ints[: self._n, K.FIRST_FRAME], -pk))
        for s in order[pk[order] >= self.min_packets][: self.max_streams].tolist():
            if np.isnan(floats[s, K.NOMINAL]):
                K.flush(s, ints, floats, self._pend, self._samp)
            rtp_like = bool(ints[s, K.RTP_OK])
            est = 1 if rtp_like and int(ints[s, K.PT]) in RTP_8KHZ_PAYLOAD_TYPES else 0
            a = [int(x) for x in self._addr[s]]
            out.append(
                UdpStream(
                    src=format_addr(a[0], a[1]),
                    src_port=a[2],
                    dst=format_addr(a[3], a[4]),
                    dst_port=a[5],
                    packets=int(ints[s, K.PKTS]),
                    bytes=int(ints[s, K.BYTES]),
                    duration_s=int(ints[s, K.LAST_NS] - ints[s, K.FIRST_NS]) / NS,
                    jitter_ms=self._stats(s, est),
                    rtp_like=rtp_like,
                    rtp_lost=int(ints[s, K.SEQ_MAX] - ints[s, K.SEQ_MIN] + 1 - ints[s, K.PKTS])
                    if rtp_like
                    else None,
                    first_frame=int(ints[s, K.FIRST_FRAME]),
                    jitter_last_ms=float(floats[s, K.J + 5 * est]) * 1000,
                    jitter_method="rtp_timestamp" if est else "capture_time",
                )
            )
        return out

    def _stats(self, s: int, est: int) -> Stats:
        f = self._floats[s, K.J + 5 * est : K.J + 5 * est + 5]  # J, sum, max, min, count
        if f[4] == 0:
            return Stats()
        kept = self._samp[s, est, : self._ints[s, K.NSAMP + 3 * est]] * 1000
        return Stats(
            count=int(f[4]),
            min=float(f[3]) * 1000,
            median=float(np.percentile(kept, 50)),
            p95=float(np.percentile(kept, 95)),
            max=float(f[2]) * 1000,
            mean=float(f[1] / f[4]) * 1000,
        )

    def limits(self) -> dict[str, int]:
        """Caps applied."""
        return {
            "udp_flows_tracked": self.max_flows,
            "udp_streams": self.max_streams,
            "udp_untracked_packets": self.untracked_packets,
            "udp_jitter_buffer": self.buffer,
            "udp_jitter_samples": self.samples,
        }


def _rtp_fields(
    buf: npt.NDArray[np.uint8], start: npt.NDArray[np.int64], avail: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], ...]:
    """(has an RTP v2 header, payload type, sequence, timestamp, SSRC) for UDP payloads at `start`."""
    ok = (avail >= 12) & (start >= 0) & (start + 12 <= buf.shape[0])
    if buf.size == 0:
        return tuple(np.zeros(start.size, np.int64) for _ in range(5))
    pos = np.where(ok, start, 0)[:, None] + np.arange(12)
    b = buf[np.minimum(pos, buf.shape[0] - 1)].astype(np.int64)
    ok &= (b[:, 0] >> 6) == 2
    seq = (b[:, 2] << 8) | b[:, 3]
    ts = (b[:, 4] << 24) | (b[:, 5] << 16) | (b[:, 6] << 8) | b[:, 7]
    ssrc = (b[:, 8] << 24) | (b[:, 9] << 16) | (b[:, 10] << 8) | b[:, 11]
    return ok.astype(np.int64), b[:, 1] & 0x7F, seq, ts, ssrc
