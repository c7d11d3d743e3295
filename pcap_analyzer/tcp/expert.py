"""The Numba kernel reproducing Wireshark's tcp_analyze_sequence_number (tcp.analysis.* flags).

It walks one chunk's TCP packets in capture order and updates the per-stream arrays of
`tcp/state.py`. The checks, their order and their side effects follow packet-tcp.c (tshark 4.0,
default preferences, two-pass): zero window probe, zero window, lost segment, keep-alive, window
update, window full, keep-alive ACK, zero window probe ACK, duplicate ACK, ACKed unseen segment,
spurious / fast retransmission, out-of-order, retransmission; then the unacked-segment list that
yields tcp.analysis.ack_rtt (time from a segment to the ACK whose number equals its end).
"""

from __future__ import annotations

import numpy as np

from pcap_analyzer.jit import kernel
from pcap_analyzer.tcp.state import (
    B_BASESET,
    B_LASTSEG,
    B_UNSORTED,
    B_WIN_FROM_SYN,
    B_WINSCALE,
    D_DATA,
    D_DUPACKNUM,
    D_FIN,
    D_HEAD,
    D_PACKETS,
    D_RST,
    D_SEGCOUNT,
    D_SYN,
    D_SYNACK,
    D_TAIL,
    G_NEXTSEQ,
    G_TS,
    L_NEWER,
    L_OLDER,
    LASTSEG_KEEP_ALIVE,
    LASTSEG_ZERO_WINDOW_PROBE,
    M_COUNTS,
    M_NFLAGGED,
    Q_BASESEQ,
    Q_LASTACK,
    Q_MAXSEQTOBEACKED,
    Q_NEXTSEQ,
    Q_WINDOW,
    S_FIRST_FRAME,
    S_FIRST_RTT,
    S_FIRST_SYN_TS,
    S_FIRST_SYNACK_TS,
    S_FIRST_TS,
    S_HS_ACK_TS,
    S_LAST_TS,
    S_MRU_SYN,
    S_RTO_END,
    S_RTO_TIME,
    W_LASTACKTIME,
    W_NEXTSEQTIME,
    W_PAYLOAD,
)

# TcpAnalysis bits (tcp/model.py), repeated as plain ints for the compiled code.
A_RETRANSMISSION = 1 << 0
A_FAST_RETRANSMISSION = 1 << 1
A_SPURIOUS_RETRANSMISSION = 1 << 2
A_OUT_OF_ORDER = 1 << 3
A_LOST_SEGMENT = 1 << 4
A_ACK_LOST_SEGMENT = 1 << 5
A_DUPLICATE_ACK = 1 << 6
A_ZERO_WINDOW = 1 << 7
A_ZERO_WINDOW_PROBE = 1 << 8
A_ZERO_WINDOW_PROBE_ACK = 1 << 9
A_WINDOW_FULL = 1 << 10
A_WINDOW_UPDATE = 1 << 11
A_KEEP_ALIVE = 1 << 12
A_KEEP_ALIVE_ACK = 1 << 13
A_RST = 1 << 15
A_SYN_RETRANSMISSION = 1 << 16
A_RTO_RETRANSMISSION = 1 << 17

TH_FIN = 0x01
TH_SYN = 0x02
TH_RST = 0x04
TH_ACK = 0x10
MASK = 0xFFFFFFFF
MAX_UNACKED = 10000  # TCP_MAX_UNACKED_SEGMENTS
FAST_RETRANS_NS = 20_000_000  # fast retransmission: within 20 ms of the last duplicate ACK
OOO_DEFAULT_NS = 3_000_000  # out-of-order threshold before the initial RTT is known
NO_THRESHOLD_NS = 1 << 62  # larger than any time difference


@kernel(inline="always")
def _sdiff(a: int, b: int) -> int:
    """(a - b) as a signed 32-bit sequence-space difference."""
    d = (a - b) & MASK
    if d >= 0x80000000:
        d -= 0x100000000
    return d


@kernel
def _unlink(links, R, RB, free, u):
    """Remove segment u from the direction's list and return it to the free pool."""
    older = links[u, L_OLDER]
    newer = links[u, L_NEWER]
    if newer == -1:
        R[D_HEAD] = older
    else:
        links[newer, L_OLDER] = older
    if older == -1:
        R[D_TAIL] = newer
    else:
        links[older, L_NEWER] = newer
    links[u, L_OLDER] = free[0]
    free[0] = u
    free[1] += 1
    R[D_SEGCOUNT] -= 1
    if R[D_HEAD] == -1:
        RB[B_UNSORTED] = 0


@kernel
def analyze_chunk(  # noqa: C901 - one faithful transcription of a long C function
    i0, stream, direction, flags, seq, ack, win, seglen, wscale, ts, frame,
    seqs, wide, dirs, small, st, marks, counts, count_rows, seg, links, free, flagged_cap,
    out_analysis, out_rtt, out_rto, out_win, out_relseq, out_keep,
):
    """Analyse packets i0.. in order; fills the out_* arrays (one entry per packet). Returns the index
    reached: below n when the flag-count rows are used up (grow `counts`, then call again from there).

    Per direction, F* is the sender's state and R* the receiver's: *Q in `seqs`, *W in `wide`, F/R in
    `dirs`, FB/RB in `small` (see `tcp/state.py`); uint32 values are read as int64 before any arithmetic.
    """
    n = stream.shape[0]
    for i in range(i0, n):
        if count_rows[0] >= counts.shape[0]:
            return i
        out_rtt[i] = -1
        out_rto[i] = -1
        out_win[i] = -1
        out_analysis[i] = 0
        out_keep[i] = False
        s = stream[i]
        if s < 0:
            continue
        d = np.int64(direction[i])
        F = dirs[s, d]
        R = dirs[s, 1 - d]
        FB = small[s, d]
        RB = small[s, 1 - d]
        FQ = seqs[s, d]
        RQ = seqs[s, 1 - d]
        FW = wide[s, d]
        RW = wide[s, 1 - d]
        S = st[s]
        M = marks[s]
        fl = np.int64(flags[i])
        sq = np.int64(seq[i])
        ak = np.int64(ack[i])
        w = np.int64(win[i])
        L = np.int64(seglen[i])
        t = ts[i]
        syn = (fl & TH_SYN) != 0
        ackf = (fl & TH_ACK) != 0
        synfin = (fl & (TH_SYN | TH_FIN)) != 0
        sfr = (fl & (TH_SYN | TH_FIN | TH_RST)) != 0
        a = np.int64(0)

        if S[S_FIRST_FRAME] == 0:
            S[S_FIRST_TS] = t
            S[S_FIRST_FRAME] = frame[i]
        S[S_LAST_TS] = t
        F[D_PACKETS] += 1
        FW[W_PAYLOAD] += L
        if L > 0:
            F[D_DATA] += 1
        if (fl & TH_RST) != 0:
            F[D_RST] += 1
            a |= A_RST
        if (fl & TH_FIN) != 0:
            F[D_FIN] += 1
        if syn:
            if F[D_SYN] > 0:
                a |= A_SYN_RETRANSMISSION
            F[D_SYN] += 1
            if ackf:
                F[D_SYNACK] += 1
                if S[S_FIRST_SYNACK_TS] < 0:
                    S[S_FIRST_SYNACK_TS] = t
            else:
                if S[S_FIRST_SYN_TS] < 0:
                    S[S_FIRST_SYN_TS] = t
                S[S_MRU_SYN] = t
                # A SYN again with the connection's ISN: tshark (dissect_tcp, issue 17616) first moves the
                # expected sequence number back to the highest continuous one, which a RST sent with the
                # peer's ACK number as its sequence number may have pushed away.
                if FB[B_BASESET] != 0 and sq == np.int64(FQ[Q_BASESEQ]):
                    FQ[Q_NEXTSEQ] = FQ[Q_MAXSEQTOBEACKED]
            # window scaling (pdu_store_window_scale_option + verify_tcp_window_scaling)
            if wscale[i] >= 0:
                FB[B_WINSCALE] = min(np.int64(wscale[i]), 14)
            if FB[B_WINSCALE] == -1:
                FB[B_WINSCALE] = -2
                RB[B_WINSCALE] = -2
            elif ackf and RB[B_WINSCALE] == -2:
                FB[B_WINSCALE] = -2
        elif ackf:
            if d == 0 and S[S_HS_ACK_TS] < 0 and S[S_FIRST_SYNACK_TS] >= 0:
                S[S_HS_ACK_TS] = t

        # base sequence numbers (relative seq)
        if FB[B_BASESET] == 0:
            FQ[Q_BASESEQ] = sq if syn else (sq - 1) & MASK
            FB[B_BASESET] = 1
        if RB[B_BASESET] == 0 and ackf:
            RQ[Q_BASESEQ] = (ak - 1) & MASK
            RB[B_BASESET] = 1
        out_relseq[i] = (sq - np.int64(FQ[Q_BASESEQ])) & MASK

        nxt = np.int64(FQ[Q_NEXTSEQ])
        f_win = np.int64(FQ[Q_WINDOW])
        f_lastack = np.int64(FQ[Q_LASTACK])
        r_win = np.int64(RQ[Q_WINDOW])
        r_lastack = np.int64(RQ[Q_LASTACK])
        zwp = False
        if L == 1 and sq == nxt and r_win == 0:
            a |= A_ZERO_WINDOW_PROBE
            zwp = True
        else:
            if w == 0 and not sfr:
                a |= A_ZERO_WINDOW
            if nxt != 0 and _sdiff(sq, nxt) > 0 and (fl & TH_RST) == 0:
                a |= A_LOST_SEGMENT
            if (L == 0 or L == 1) and sq == ((nxt - 1) & MASK) and not sfr:
                a |= A_KEEP_ALIVE
            if L == 0 and w != 0 and w != f_win and sq == nxt and ak == f_lastack and not sfr:
                a |= A_WINDOW_UPDATE
            if L > 0 and RB[B_WINSCALE] != -1 and not sfr:
                shift = 0 if (RB[B_WIN_FROM_SYN] != 0 or RB[B_WINSCALE] == -2) else np.int64(RB[B_WINSCALE])
                if ((sq + L) & MASK) == ((r_lastack + (r_win << shift)) & MASK):
                    a |= A_WINDOW_FULL
            same = L == 0 and w == f_win and sq == nxt and ak == f_lastack and not sfr
            if same and w != 0 and (RB[B_LASTSEG] & LASTSEG_KEEP_ALIVE) != 0:
                a |= A_KEEP_ALIVE_ACK
            elif same and w == 0 and (RB[B_LASTSEG] & LASTSEG_ZERO_WINDOW_PROBE) != 0:
                a |= A_ZERO_WINDOW_PROBE_ACK
            elif same and w != 0:
                if F[D_DUPACKNUM] == -1:
                    F[D_DUPACKNUM] = 1
                else:
                    F[D_DUPACKNUM] += 1
                a |= A_DUPLICATE_ACK
        # finished_fwd
        if ak != f_lastack:
            F[D_DUPACKNUM] = 0
        # ACKed unseen segment, as tshark 4.0 (the oracle's version) flags it: once per gap. When the other
        # direction has data beyond its continuous part (a hole), the mark moves to its highest sequence
        # number; otherwise the ACK is flagged only if no ACK of this gap was flagged before (the dupack
        # counter doubles as that memory). Checked on ../shared/public-corpus: 36 -> 3 files disagree.
        rmax = np.int64(RQ[Q_MAXSEQTOBEACKED])
        if rmax != 0 and _sdiff(ak, rmax) > 0 and ackf:
            if _sdiff(rmax, np.int64(RQ[Q_NEXTSEQ])) < 0:  # in sequence space: the mark may wrap past 2**32
                RQ[Q_MAXSEQTOBEACKED] = RQ[Q_NEXTSEQ]
                a |= A_ACK_LOST_SEGMENT
            else:
                if R[D_DUPACKNUM] == 0:
                    a |= A_ACK_LOST_SEGMENT
                R[D_DUPACKNUM] = -1

        if L > 0 or synfin:
            not_adv = nxt != 0 and _sdiff(sq, nxt) < 0
            if (a & A_KEEP_ALIVE) == 0:
                if L > 1 and ((nxt - 1) & MASK) == sq:
                    not_adv = False
                if L > 0 and r_lastack != 0 and _sdiff((sq + L) & MASK, r_lastack) <= 0:
                    a |= A_SPURIOUS_RETRANSMISSION | A_RETRANSMISSION
                # tshark takes both time differences as unsigned: a packet stamped before the last ACK or
                # the highest segment (time going backwards) is far from them, never within the threshold.
                # tshark's dupacknum is unsigned: the -1 left by an ACKed unseen segment counts as >= 2
                elif (not_adv and (R[D_DUPACKNUM] >= 2 or R[D_DUPACKNUM] == -1) and r_lastack == sq
                      and 0 <= t - RW[W_LASTACKTIME] < FAST_RETRANS_NS):
                    a |= A_FAST_RETRANSMISSION | A_RETRANSMISSION
                else:
                    thres = S[S_FIRST_RTT] if S[S_FIRST_RTT] != 0 else OOO_DEFAULT_NS
                    if thres < 0:  # an initial RTT measured backwards in time: tshark's unsigned threshold
                        thres = NO_THRESHOLD_NS
                    extra = 1 if synfin else 0
                    since = t - FW[W_NEXTSEQTIME]
                    if not_adv and 0 <= since < thres and nxt != ((sq + L + extra) & MASK):
                        a |= A_OUT_OF_ORDER
                    elif not_adv:
                        a |= A_RETRANSMISSION | A_RTO_RETRANSMISSION
                        # the eldest unacked segment, else the highest one
                        u = np.int64(F[D_TAIL])
                        rto = t - seg[u, G_TS] if u != -1 else t - FW[W_NEXTSEQTIME]
                        if rto != 0:
                            out_rto[i] = rto
                            # waiting = union of [t - rto, t]: several segments resent after one loss
                            # wait over the same period, which must count once
                            start = max(t - rto, S[S_RTO_END])
                            if t > start:
                                S[S_RTO_TIME] += t - start
                                S[S_RTO_END] = t

        # finished_checking_retransmission_type
        # The initial RTT (first pure ACK after a SYN), taken after this packet's own analysis as tshark does:
        # the ACK that yields it is still judged with the threshold known before it.
        if ackf and not syn and S[S_MRU_SYN] != 0 and S[S_FIRST_RTT] == 0:
            S[S_FIRST_RTT] = t - S[S_MRU_SYN]
        nseq = (sq + L) & MASK
        if (L > 0 or synfin) and F[D_SEGCOUNT] < MAX_UNACKED:
            u = free[0]
            free[0] = links[u, L_OLDER]
            free[1] -= 1
            if synfin:
                nseq = (nseq + 1) & MASK
            seg[u, G_NEXTSEQ] = nseq
            seg[u, G_TS] = t
            h = np.int64(F[D_HEAD])
            links[u, L_OLDER] = h
            links[u, L_NEWER] = -1
            if h == -1:
                F[D_TAIL] = u
            else:
                links[h, L_NEWER] = u
                if _sdiff(nseq, seg[h, G_NEXTSEQ]) <= 0:
                    FB[B_UNSORTED] = 1
            F[D_HEAD] = u
            F[D_SEGCOUNT] += 1
        if (_sdiff(nseq, nxt) > 0 or nxt == 0) and not zwp:
            FQ[Q_NEXTSEQ] = nseq
            FW[W_NEXTSEQTIME] = t
        fmax = np.int64(FQ[Q_MAXSEQTOBEACKED])
        if (sq == fmax or fmax == 0) and not zwp:
            FQ[Q_MAXSEQTOBEACKED] = FQ[Q_NEXTSEQ]
        FQ[Q_WINDOW] = w
        FB[B_WIN_FROM_SYN] = 1 if syn else 0
        FQ[Q_LASTACK] = ak
        FW[W_LASTACKTIME] = t
        FB[B_LASTSEG] = (LASTSEG_KEEP_ALIVE if (a & A_KEEP_ALIVE) != 0 else 0) | (
            LASTSEG_ZERO_WINDOW_PROBE if (a & A_ZERO_WINDOW_PROBE) != 0 else 0
        )

        # Segments this ACK covers. Only a segment's end matters (Wireshark's trimming of partly
        # acked segments changes nothing it reports): every segment ending at or before the ACK is
        # removed, and ack_rtt comes from the oldest one ending exactly at it. When segment ends
        # increase from oldest to newest (the usual case) the walk starts at the oldest and stops
        # at the first segment beyond the ACK.
        rtt = np.int64(0)
        matched = False
        if RB[B_UNSORTED] == 0:
            u = np.int64(R[D_TAIL])
            while u != -1:
                unext = seg[u, G_NEXTSEQ]
                if _sdiff(unext, ak) > 0:
                    break
                if unext == ak and not matched:
                    rtt = t - seg[u, G_TS]
                    matched = True
                newer = np.int64(links[u, L_NEWER])
                _unlink(links, R, RB, free, u)
                u = newer
        else:
            u = np.int64(R[D_HEAD])
            while u != -1:
                unext = seg[u, G_NEXTSEQ]
                older = np.int64(links[u, L_OLDER])
                if _sdiff(unext, ak) <= 0:
                    if unext == ak:
                        rtt = t - seg[u, G_TS]  # overwritten until the oldest match, as Wireshark
                        matched = True
                    _unlink(links, R, RB, free, u)
                u = older
        if matched and rtt != 0:
            out_rtt[i] = rtt

        if syn:
            out_win[i] = w
        elif FB[B_WINSCALE] >= 0:
            out_win[i] = w << FB[B_WINSCALE]
        else:
            out_win[i] = w
        out_analysis[i] = a
        if a != 0:
            counted = a & ~A_RST  # RST packets are counted per direction in D_RST
            if counted != 0:
                r = M[M_COUNTS]
                if r < 0:
                    r = count_rows[0]
                    count_rows[0] += 1
                    M[M_COUNTS] = r
                b = 0
                while b < 18:
                    if (counted >> b) & 1:
                        counts[r, b] += 1
                    b += 1
            if M[M_NFLAGGED] < flagged_cap:
                M[M_NFLAGGED] += 1
                out_keep[i] = True
    return n
