"""Compact per-connection TCP state: NumPy arrays indexed by tcp.stream, grown in place by 1/16.

Everything the Numba kernel (`tcp/expert.py`) keeps between chunks lives here, in a few matrices
addressed by the column constants below, each of the narrowest type its values fit exactly:
per direction, sequence numbers and windows as uint32 (`seqs`, Q_*), times and byte totals as int64
(`wide`, W_*), counters and list links as int32 (`dirs`, D_*), window scale and flags as int8
(`small`, B_*); per stream, times as int64 (`streams`, S_*) and small values as int32 (`marks`, M_*).
Unacknowledged segments (Wireshark's `tcp_unacked_t` list) live in a pool with int32 index links.

Memory: about 260 bytes per stream, plus 72 for a stream with flags other than RST (`counts`). The
per-stream arrays grow in place (`ndarray.resize`, a realloc that large blocks satisfy by remapping
pages), so growing never holds the old and the new copy at once, and the spare capacity stays under
1/16.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# Per direction, Wireshark's `tcp_flow_t` fields. `TcpState.seqs[stream, direction, Q_*]` (uint32):
Q_NEXTSEQ = 0  # raw seq expected next (0 = unknown, as Wireshark)
Q_MAXSEQTOBEACKED = 1
Q_LASTACK = 2
Q_BASESEQ = 3
Q_WINDOW = 4  # raw window of the last segment (0xFFFFFFFF before any)
N_SEQ = 5

# `TcpState.wide[stream, direction, W_*]` (int64):
W_NEXTSEQTIME = 0
W_LASTACKTIME = 1
W_PAYLOAD = 2
N_WIDE = 3

# `TcpState.dirs[stream, direction, D_*]` (int32): counters and unacked-list links.
D_DUPACKNUM = 0
D_HEAD = 1  # unacked segment list: newest first, -1 = empty
D_TAIL = 2  # oldest unacked segment, -1 = empty
D_SEGCOUNT = 3
D_PACKETS = 4
D_SYN = 5  # SYN (or SYN/ACK) packets sent by this side
D_SYNACK = 6  # SYN/ACK packets sent by this side
D_FIN = 7
D_RST = 8
D_DATA = 9  # payload packets
N_DIR = 10

# `TcpState.small[stream, direction, B_*]` (int8): window scale and flags.
B_WINSCALE = 0  # -1 unknown, -2 no scaling, else shift (0..14)
B_WIN_FROM_SYN = 1  # the stored window came from a SYN (never scaled)
B_BASESET = 2
B_UNSORTED = 3  # 1 when the list's segment ends are not increasing from oldest to newest
B_LASTSEG = 4  # what the last segment was: LASTSEG_* bits (Wireshark keeps its analysis flags)
N_SMALL = 5
LASTSEG_KEEP_ALIVE = 1
LASTSEG_ZERO_WINDOW_PROBE = 2

# Per stream, `TcpState.streams[stream, S_*]` (int64):
S_MRU_SYN = 0  # time of the most recent SYN (Wireshark's ts_mru_syn), 0 = none
S_FIRST_RTT = 1  # tcp.analysis.initial_rtt in ns, 0 = unknown
S_FIRST_SYN_TS = 2  # -1 = none
S_FIRST_SYNACK_TS = 3
S_HS_ACK_TS = 4  # first pure ACK from the initiator after the SYN/ACK
S_RTO_TIME = 5  # time waiting for timeouts (ns): union of the [t - rto, t] intervals of RTO retransmissions
S_FIRST_TS = 6
S_LAST_TS = 7
S_FIRST_FRAME = 8  # 0 = no packet yet (frame numbers start at 1)
S_RTO_END = 9  # end of the RTO waiting counted so far (ns), 0 = none
N_STREAM = 10

# `TcpState.marks[stream, M_*]` (int32):
M_SLOT = 0  # detail-series slot, -1 = none
M_NFLAGGED = 1  # flagged packets kept for the report (capped)
M_COUNTS = 2  # the stream's row in `TcpState.counts`, -1 = none yet
N_MARK = 3

# Unacked segment pool: `TcpState.seg[u, G_*]` (int64) and `TcpState.links[u, L_*]` (int32).
G_NEXTSEQ = 0  # the segment's end (seq + length, + 1 for SYN/FIN)
G_TS = 1
L_OLDER = 0  # next in its list, or next free slot; -1 = none
L_NEWER = 1

# Flag counts: `TcpState.counts[row, bit]` (int32) = packets of a stream carrying TcpAnalysis bit `bit`
# (tcp/model.py: bits 0..17). Most connections never get a flag but a reset, so rows are handed out on a
# stream's first flag other than RST (RST packets are counted per direction in D_RST).
N_COUNTS = 18
RST_BIT = 15
GROWTH = 1.0625  # a realloc (large blocks are remapped, not copied), so small steps cost little

SEQ_MASK = 0xFFFFFFFF
NO_WINDOW = 0xFFFFFFFF


def _grow_rows(a: npt.NDArray[np.generic], n: int, in_place: bool) -> npt.NDArray[np.generic]:
    """`a` with `n` rows (new rows zero): resized in place when allowed, else copied."""
    if in_place and a.flags.owndata and a.flags.c_contiguous:
        a.resize((n,) + a.shape[1:], refcheck=False)
        return a
    out = np.zeros((n,) + a.shape[1:], dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


class TcpState:
    """All per-stream state and the unacked-segment pool; `ensure` grows it.

    `frozen` (set once a report holds views of the arrays) makes later growth copy instead of
    resizing in place, so those views never dangle.
    """

    def __init__(self, streams: int = 64, segments: int = 4096) -> None:
        self.seqs = np.zeros((0, 2, N_SEQ), np.uint32)
        self.wide = np.zeros((0, 2, N_WIDE), np.int64)
        self.dirs = np.zeros((0, 2, N_DIR), np.int32)
        self.small = np.zeros((0, 2, N_SMALL), np.int8)
        self.streams = np.zeros((0, N_STREAM), np.int64)
        self.marks = np.zeros((0, N_MARK), np.int32)
        self.counts = np.zeros((64, N_COUNTS), np.int32)
        self.count_rows = np.zeros(1, np.int64)  # rows of `counts` handed out
        self.n_streams = 0
        self.frozen = False
        self._ensure_streams(streams)
        self.seg = np.zeros((segments, 2), np.int64)
        self.links = np.zeros((segments, 2), np.int32)
        self.links[:, L_OLDER] = np.arange(1, segments + 1)
        self.links[-1, L_OLDER] = -1
        self.free = np.array([0, segments], np.int64)  # [head of free list, free count]

    def _ensure_streams(self, n: int) -> None:
        cap = self.dirs.shape[0]
        if n <= cap:
            return
        new = max(n, int(GROWTH * cap), 64)
        in_place = not self.frozen
        self.seqs = _grow_rows(self.seqs, new, in_place)
        self.seqs[cap:, :, Q_WINDOW] = NO_WINDOW
        self.wide = _grow_rows(self.wide, new, in_place)
        self.dirs = dirs = _grow_rows(self.dirs, new, in_place)
        self.small = _grow_rows(self.small, new, in_place)
        self.small[cap:, :, B_WINSCALE] = -1
        dirs[cap:, :, D_HEAD] = -1
        dirs[cap:, :, D_TAIL] = -1
        self.streams = streams = _grow_rows(self.streams, new, in_place)
        streams[cap:, S_FIRST_SYN_TS] = -1
        streams[cap:, S_FIRST_SYNACK_TS] = -1
        streams[cap:, S_HS_ACK_TS] = -1
        self.marks = _grow_rows(self.marks, new, in_place)
        self.marks[cap:, M_SLOT] = -1
        self.marks[cap:, M_COUNTS] = -1

    def grow_counts(self) -> None:
        """More rows for `counts` (the kernel stops when they are used up)."""
        self.counts = _grow_rows(self.counts, int(GROWTH * self.counts.shape[0]) + 64, not self.frozen)

    def flag_counts(self, streams: npt.NDArray[np.int64] | None = None) -> npt.NDArray[np.int32]:
        """(len(streams), N_COUNTS) packets per TcpAnalysis bit of `streams` (all streams when None)."""
        if streams is None:
            streams = np.arange(self.n_streams)
        out = np.zeros((streams.shape[0], N_COUNTS), np.int32)
        rows = self.marks[streams, M_COUNTS]
        has = rows >= 0
        out[has] = self.counts[rows[has]]
        out[:, RST_BIT] = self.dirs[streams, :, D_RST].sum(axis=1)
        return out

    def ensure(self, max_stream: int, new_packets: int) -> None:
        """Make room for streams up to `max_stream` and `new_packets` more unacked segments."""
        self._ensure_streams(max_stream + 1)
        self.n_streams = max(self.n_streams, max_stream + 1)
        if self.free[1] >= new_packets:
            return
        old = self.seg.shape[0]
        new = max(int(GROWTH * old), old + new_packets - int(self.free[1]))
        self.seg = _grow_rows(self.seg, new, True)  # no report holds views of the pool
        self.links = links = _grow_rows(self.links, new, True)
        links[old:, L_OLDER] = np.arange(old + 1, new + 1)
        links[-1, L_OLDER] = self.free[0]  # chain the old free list after the new slots
        self.free[0] = old
        self.free[1] += new - old
