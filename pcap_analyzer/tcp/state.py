"""Compact per-connection TCP state: NumPy arrays indexed by tcp.stream, grown in place by 25 %.

Everything the Numba kernel (`tcp/expert.py`) keeps between chunks lives here, as a few int64
matrices addressed by the column constants below, plus a pool of unacknowledged segments
(Wireshark's `tcp_unacked_t` list) stored as arrays with index links.

Memory: about 590 bytes per stream. The per-stream arrays grow in place (`ndarray.resize`, a
realloc that large blocks satisfy by remapping pages), so growing never holds the old and the new
copy at once, and the spare capacity stays under 25 %.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# Per direction (`TcpState.dirs[stream, direction, D_*]`), Wireshark's `tcp_flow_t` fields.
D_NEXTSEQ = 0  # raw seq expected next (0 = unknown, as Wireshark)
D_NEXTSEQFRAME = 1
D_NEXTSEQTIME = 2
D_MAXSEQTOBEACKED = 3
D_LASTACK = 4
D_LASTACKTIME = 5
D_WINDOW = 6  # raw window of the last segment (0xFFFFFFFF before any)
D_WINSCALE = 7  # -1 unknown, -2 no scaling, else shift
D_WIN_FROM_SYN = 8  # the stored window came from a SYN (never scaled)
D_LASTSEGFLAGS = 9
D_DUPACKNUM = 10
D_LASTNONDUPACK = 11
D_BASESEQ = 12
D_BASESET = 13
D_HEAD = 14  # unacked segment list: newest first, -1 = empty
D_SEGCOUNT = 15
D_PACKETS = 16
D_SYN = 17  # SYN (or SYN/ACK) packets sent by this side
D_FIN = 18
D_RST = 19
D_PAYLOAD = 20
D_FIRST_SYN_FRAME = 21
D_DATA = 22  # payload packets
D_SYNACK = 23  # SYN/ACK packets sent by this side
D_TAIL = 24  # oldest unacked segment, -1 = empty
D_UNSORTED = 25  # 1 when the list's segment ends are not increasing from oldest to newest
N_DIR = 26

# Per stream (`TcpState.streams[stream, S_*]`).
S_SEEN = 0
S_MRU_SYN = 1  # time of the most recent SYN (Wireshark's ts_mru_syn), 0 = none
S_FIRST_RTT = 2  # tcp.analysis.initial_rtt in ns, 0 = unknown
S_FIRST_SYN_TS = 3  # -1 = none
S_FIRST_SYNACK_TS = 4
S_HS_ACK_TS = 5  # first pure ACK from the initiator after the SYN/ACK
S_RTO_TIME = 6  # sum of tcp.analysis.rto of generic retransmissions (ns)
S_FIRST_TS = 7
S_LAST_TS = 8
S_FIRST_FRAME = 9
S_SLOT = 10  # detail-series slot, -1 = none
S_SYN_BEFORE_SYNACK = 11  # SYN/ACK seen after a SYN from the initiator
S_NFLAGGED = 12  # flagged packets kept for the report (capped)
N_STREAM = 13

N_COUNTS = 18  # TcpAnalysis bits counted per stream (tcp/model.py: bits 0..17)
GROWTH = 1.25

SEQ_MASK = 0xFFFFFFFF
NO_WINDOW = 0xFFFFFFFF


def _grow_rows(a: npt.NDArray[np.int64], n: int, in_place: bool) -> npt.NDArray[np.int64]:
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
        self.dirs = np.zeros((0, 2, N_DIR), np.int64)
        self.streams = np.zeros((0, N_STREAM), np.int64)
        self.counts = np.zeros((0, N_COUNTS), np.int32)  # per stream: packets carrying each TcpAnalysis bit
        self.n_streams = 0
        self.frozen = False
        self._ensure_streams(streams)
        # segment pool: seq, nextseq, frame, ts, older (next in list / next free), newer
        self.seg = np.zeros((segments, 6), np.int64)
        self.seg[:, 4] = np.arange(1, segments + 1)
        self.seg[-1, 4] = -1
        self.free = np.array([0, segments], np.int64)  # [head of free list, free count]

    def _ensure_streams(self, n: int) -> None:
        cap = self.dirs.shape[0]
        if n <= cap:
            return
        new = max(n, int(GROWTH * cap), 64)
        in_place = not self.frozen
        self.dirs = dirs = _grow_rows(self.dirs, new, in_place)
        dirs[cap:, :, D_WINDOW] = NO_WINDOW
        dirs[cap:, :, D_WINSCALE] = -1
        dirs[cap:, :, D_HEAD] = -1
        dirs[cap:, :, D_TAIL] = -1
        dirs[cap:, :, D_FIRST_SYN_FRAME] = -1
        self.streams = streams = _grow_rows(self.streams, new, in_place)
        streams[cap:, S_FIRST_SYN_TS] = -1
        streams[cap:, S_FIRST_SYNACK_TS] = -1
        streams[cap:, S_HS_ACK_TS] = -1
        streams[cap:, S_SLOT] = -1
        self.counts = _grow_rows(self.counts, new, in_place)

    def ensure(self, max_stream: int, new_packets: int) -> None:
        """Make room for streams up to `max_stream` and `new_packets` more unacked segments."""
        self._ensure_streams(max_stream + 1)
        self.n_streams = max(self.n_streams, max_stream + 1)
        if self.free[1] >= new_packets:
            return
        old = self.seg.shape[0]
        new = max(int(GROWTH * old), old + new_packets - int(self.free[1]))
        self.seg = seg = _grow_rows(self.seg, new, True)  # no report holds views of the pool
        seg[old:, 4] = np.arange(old + 1, new + 1)
        seg[-1, 4] = self.free[0]  # chain the old free list after the new slots
        self.free[0] = old
        self.free[1] += new - old
