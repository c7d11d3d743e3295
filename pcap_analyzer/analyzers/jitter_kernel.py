"""Numba kernel of the UDP stream analyzer: per-flow RFC 3550 jitter and RTP sequence state in arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.jit import kernel

# int64 state columns (one row per tracked flow)
PKTS, BYTES, FIRST_NS, LAST_NS, FIRST_FRAME, NPEND = 0, 1, 2, 3, 4, 5
RTP_OK, SSRC, PT, RTP_BASE, PREV_REL, SEQ_EXT, SEQ_MIN, SEQ_MAX = 6, 7, 8, 9, 10, 11, 12, 13
NSAMP, STRIDE, SEEN = 14, 15, 16  # sample reservoir of the capture-time J; +3 for the RTP J
N_INT = 20
# float64 state columns: J, sum, max, min, count for the capture-time estimator; +5 for the RTP one
NOMINAL, J = 0, 1
RTP_J = 6
N_FLOAT = 11
RTP_8KHZ = (0, 3, 4, 8, 9, 18)  # PCMU, GSM, G723, PCMA, G722 (8 kHz RTP clock), G729


def new_state(n: int, buffer: int, samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Zeroed state for `n` flows: (ints, floats, pending arrivals, J samples [2 estimators])."""
    ints = np.zeros((n, N_INT), np.int64)
    ints[:, RTP_OK] = 1
    ints[:, STRIDE] = 1
    ints[:, STRIDE + 3] = 1
    floats = np.zeros((n, N_FLOAT), np.float64)
    floats[:, NOMINAL] = np.nan
    return ints, floats, np.zeros((n, buffer + 1), np.int64), np.zeros((n, 2, samples), np.float64)


@kernel
def _step(s: int, d: float, est: int, ints: np.ndarray, floats: np.ndarray, samp: np.ndarray) -> None:
    """J += (|D| - J) / 16 (RFC 3550 6.4.1) for estimator `est` (0 capture time, 1 RTP), keep stats."""
    fj = J + 5 * est
    j = floats[s, fj] + (abs(d) - floats[s, fj]) / 16.0
    floats[s, fj] = j
    floats[s, fj + 1] += j
    cnt = floats[s, fj + 4]
    floats[s, fj + 2] = j if cnt == 0 or j > floats[s, fj + 2] else floats[s, fj + 2]
    floats[s, fj + 3] = j if cnt == 0 or j < floats[s, fj + 3] else floats[s, fj + 3]
    floats[s, fj + 4] = cnt + 1
    base = NSAMP + 3 * est
    seen, stride, n = ints[s, base + 2], ints[s, base + 1], ints[s, base]
    cap = samp.shape[2]
    if seen % stride == 0:
        if n == cap:  # keep every other sample, double the stride: memory stays bounded
            half = (cap + 1) // 2
            for i in range(half):
                samp[s, est, i] = samp[s, est, 2 * i]
            n = half
            stride *= 2
        if seen % stride == 0:
            samp[s, est, n] = j
            n += 1
    ints[s, base], ints[s, base + 1], ints[s, base + 2] = n, stride, seen + 1


@kernel(_nrt=True)  # allocates arrays
def flush(s: int, ints: np.ndarray, floats: np.ndarray, pend: np.ndarray, samp: np.ndarray) -> None:
    """Fix the nominal interval T (median of the buffered inter-arrival times) and run J over them."""
    n = ints[s, NPEND]
    d = (pend[s, 1:n] - pend[s, : n - 1]) / 1e9 if n > 1 else np.zeros(0)
    nominal = np.median(d) if d.size else 0.0
    floats[s, NOMINAL] = nominal
    for i in range(d.size):
        _step(s, d[i] - nominal, 0, ints, floats, samp)
    ints[s, NPEND] = 0


@kernel(_nrt=True)  # allocates arrays
def run(
    slot: npt.NDArray[np.int64],
    ts: npt.NDArray[np.int64],
    payload: npt.NDArray[np.int64],
    frame: npt.NDArray[np.int64],
    rtp_ok: npt.NDArray[np.int64],
    pt: npt.NDArray[np.int64],
    seq: npt.NDArray[np.int64],
    rts: npt.NDArray[np.int64],
    ssrc: npt.NDArray[np.int64],
    ints: np.ndarray,
    floats: np.ndarray,
    pend: np.ndarray,
    samp: np.ndarray,
) -> None:
    """Feed packets (capture order) to their flow's state; slot < 0 = not tracked."""
    buffer = pend.shape[1] - 1
    for k in range(slot.shape[0]):
        s = slot[k]
        if s < 0:
            continue
        t = ts[k]
        first = ints[s, PKTS] == 0
        d = 0.0
        if first:
            ints[s, FIRST_NS] = t
            ints[s, FIRST_FRAME] = frame[k]
        else:
            d = (t - ints[s, LAST_NS]) / 1e9
        ints[s, PKTS] += 1
        ints[s, BYTES] += payload[k]
        ints[s, LAST_NS] = t
        if np.isnan(floats[s, NOMINAL]):
            pend[s, ints[s, NPEND]] = t
            ints[s, NPEND] += 1
            if ints[s, NPEND] > buffer:
                flush(s, ints, floats, pend, samp)
        elif not first:
            _step(s, d - floats[s, NOMINAL], 0, ints, floats, samp)
        if ints[s, RTP_OK] == 0:
            continue
        if rtp_ok[k] == 0 or (not first and ssrc[k] != ints[s, SSRC]):
            ints[s, RTP_OK] = 0
        elif first:
            ints[s, SSRC], ints[s, PT], ints[s, RTP_BASE] = ssrc[k], pt[k], rts[k]
            ints[s, SEQ_EXT], ints[s, SEQ_MIN], ints[s, SEQ_MAX] = seq[k], seq[k], seq[k]
        else:
            ext = ints[s, SEQ_EXT] + ((seq[k] - (ints[s, SEQ_EXT] & 0xFFFF) + 0x8000) & 0xFFFF) - 0x8000
            ints[s, SEQ_EXT] = ext
            ints[s, SEQ_MIN] = min(ints[s, SEQ_MIN], ext)
            ints[s, SEQ_MAX] = max(ints[s, SEQ_MAX], ext)
            if ints[s, PT] in RTP_8KHZ:
                rel = (rts[k] - ints[s, RTP_BASE]) & 0xFFFFFFFF
                _step(s, d - (rel - ints[s, PREV_REL]) / 8000.0, 1, ints, floats, samp)
                ints[s, PREV_REL] = rel
