"""Bounded per-connection drill-down series (sequence, peer ACK, receiver window over time).

Design: a fixed pool of `slots`. Free slots go to connections in order of appearance (so their
series start at their first packet); once all are taken, a connection that carries tcp.analysis
flags takes the slot of the connection with the fewest flagged packets when it already has more
(its series then starts at that moment). Each slot keeps,
per direction, at most `points` points: when full, every second point is dropped and the stride
doubles, so the series stays an even subsample of the whole connection from the moment it got its
slot. Memory: slots * 2 * points * 56 bytes (32 * 2 * 1024 * 56 = 3.7 MB by default), whatever the
capture size.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.decode.packets import TCP_FIN, TCP_SYN, PacketTable
from pcap_analyzer.flows.model import FlowAssignment
from pcap_analyzer.tcp.model import TcpChunkResult
from pcap_analyzer.tcp.state import M_SLOT, Q_BASESEQ, TcpState

_SEQ_COLS = 4  # t, rel_seq, len, analysis bits
_ACK_COLS = 3  # t, rel_ack, window


class _Buf:
    """One stride-doubling point buffer."""

    __slots__ = ("data", "n", "seen", "stride")

    def __init__(self, points: int, cols: int) -> None:
        self.data = np.zeros((points, cols), np.float64)
        self.n = 0
        self.seen = 0
        self.stride = 1

    def add(self, source: npt.NDArray[np.float64], rows: npt.NDArray[np.intp]) -> None:
        """Append `source[rows]` (in order), thinned to the current stride."""
        start = (-self.seen) % self.stride  # keep global positions that are multiples of stride
        self.seen += rows.shape[0]
        rows = rows[start :: self.stride]
        if rows.shape[0] == 0:
            return
        end = self.n + rows.shape[0]
        if end <= self.data.shape[0]:
            self.data[self.n : end] = source[rows]
            self.n = end
            return
        # Full: halve (keep every second point, double the stride) until old + new points fit, i.e. keep
        # every q-th point of the old points followed by the new ones, without building that sequence.
        q, cap = 2, self.data.shape[0]
        while -(-end // q) > cap:
            q *= 2
        old = self.data[: self.n : q].copy()
        rows = rows[(-self.n) % q :: q]
        self.data[: old.shape[0]] = old
        self.n = old.shape[0] + rows.shape[0]
        self.data[old.shape[0] : self.n] = source[rows]
        self.stride *= q

    def rows(self) -> npt.NDArray[np.float64]:
        return self.data[: self.n]


class SeriesStore:
    """Slots of drill-down series for the most interesting connections."""

    def __init__(self, slots: int = 32, points: int = 1024) -> None:
        self.points = points
        self.slot_stream = np.full(slots, -1, np.int64)
        self.seq: list[list[_Buf]] = []
        self.ack: list[list[_Buf]] = []
        for _ in range(slots):
            self.seq.append([_Buf(points, _SEQ_COLS), _Buf(points, _SEQ_COLS)])
            self.ack.append([_Buf(points, _ACK_COLS), _Buf(points, _ACK_COLS)])

    def _assign(self, candidates: npt.NDArray[np.int64], state: TcpState) -> None:
        flagged = state.flag_counts(candidates).sum(axis=1)
        if not (self.slot_stream < 0).any():
            # The owners' smallest count only grows below, so a candidate not above it now never wins.
            better = flagged > state.flag_counts(self.slot_stream).sum(axis=1).min()
            candidates, flagged = candidates[better], flagged[better]
        for s, count in zip(candidates.tolist(), flagged.tolist(), strict=True):
            free = np.flatnonzero(self.slot_stream < 0)
            if free.size:
                slot = int(free[0])
            else:
                owner_counts = state.flag_counts(self.slot_stream).sum(axis=1)
                slot = int(np.argmin(owner_counts))
                if owner_counts[slot] >= count:
                    continue
                state.marks[self.slot_stream[slot], M_SLOT] = -1
                for d in range(2):
                    self.seq[slot][d] = _Buf(self.points, _SEQ_COLS)
                    self.ack[slot][d] = _Buf(self.points, _ACK_COLS)
            self.slot_stream[slot] = s
            state.marks[s, M_SLOT] = slot

    def update(self, packets: PacketTable, flows: FlowAssignment, res: TcpChunkResult,
               state: TcpState, t0: int) -> None:
        """Add this chunk's points for connections holding (or now earning) a slot."""
        if self.slot_stream.size == 0:
            return
        stream = flows.tcp_stream
        tcp = stream >= 0
        free = int(np.count_nonzero(self.slot_stream < 0))
        if free:  # free slots go to connections in order of appearance, from their first packet
            new = np.unique(stream[tcp])
            new = new[state.marks[new, M_SLOT] < 0][:free]
            self._assign(new, state)
        flagged = (res.analysis != 0) & tcp
        if flagged.any():  # then a flagged connection may take the slot of a less flagged one
            cand = np.unique(stream[flagged])
            cand = cand[state.marks[cand, M_SLOT] < 0]
            if cand.size:
                self._assign(cand, state)
        if not (self.slot_stream >= 0).any():
            return
        slot_of = np.where(tcp, state.marks[np.maximum(stream, 0), M_SLOT], -1)
        idx = np.flatnonzero(slot_of >= 0)
        if idx.size == 0:
            return
        s = stream[idx]
        d = flows.direction[idx].astype(np.int64)
        length = packets.payload_len[idx]
        is_seg = (length > 0) | ((packets.tcp_flags[idx] & (TCP_SYN | TCP_FIN)) != 0)
        base = state.seqs[s, 1 - d, Q_BASESEQ].astype(np.int64)
        seq_rows = np.empty((idx.size, _SEQ_COLS), np.float64)
        seq_rows[:, 0] = (packets.ts_ns[idx] - t0) / 1e9
        seq_rows[:, 1], seq_rows[:, 2], seq_rows[:, 3] = res.rel_seq[idx], length, res.analysis[idx]
        ack_rows = np.empty((idx.size, _ACK_COLS), np.float64)
        ack_rows[:, 0] = seq_rows[:, 0]
        ack_rows[:, 1] = (packets.ack[idx].astype(np.int64) - base) & 0xFFFFFFFF
        ack_rows[:, 2] = res.window[idx]
        # A 16-bit key gets NumPy's radix sort; stable keeps capture order within each (slot, direction).
        key = (slot_of[idx] * 2 + d).astype(np.uint16 if self.slot_stream.size <= 1 << 15 else np.int64)
        order = np.argsort(key, kind="stable")
        ends = np.cumsum(np.bincount(key, minlength=2 * self.slot_stream.size))
        for k in np.flatnonzero(np.diff(ends, prepend=0)).tolist():
            rows = order[ends[k - 1] if k else 0 : ends[k]]
            slot, direction = divmod(k, 2)
            self.seq[slot][direction].add(seq_rows, rows[is_seg[rows]])
            self.ack[slot][direction].add(ack_rows, rows)

    def get(self, stream: int, data_dir: int) -> tuple[npt.NDArray[np.float64], ...] | None:
        """(seq rows of the data direction, ack/window rows of the receiver) or None without a slot."""
        hit = np.flatnonzero(self.slot_stream == stream)
        if hit.size == 0:
            return None
        slot = int(hit[0])
        return self.seq[slot][data_dir].rows(), self.ack[slot][1 - data_dir].rows()
