"""The waits kernel: one pass over a chunk's TCP packets updating per-stream stall, idle and segment-size
state (see `tcp/waits.py` for the definitions)."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.jit import kernel

NONE = np.iinfo(np.int64).min  # "no open interval" / "no packet yet"

# `streams[s, T_*]` (int64)
T_LAST = 0  # time of the stream's last packet
T_MAX_GAP = 1  # longest gap between two consecutive packets (ns)
T_GAP_FROM = 2  # time of the packet before that gap
N_T = 3
# `times[s, d, X_*]` (int64), d = the side that sent the packets (and advertised the window)
X_ZW_START = 0  # start of the open zero-window stall, NONE = none
X_ZW_TOTAL = 1
X_ZW_MAX = 2
X_LOW_START = 3  # start of the open low-window interval, NONE = none
X_LOW_TOTAL = 4
N_X = 5
# `counts[s, d, C_*]` (int32)
C_STALLS = 0
C_LARGE = 1  # data segments >= the large-segment size
C_LARGE_RETX = 2
C_SMALL = 3
C_SMALL_RETX = 4
N_C = 5

A_ZERO_WINDOW = 1 << 7  # TcpAnalysis.ZERO_WINDOW
A_RETRANSMITTED = (1 << 0) | (1 << 1) | (1 << 2)  # retransmission, fast, spurious
TCP_SYN = 0x002


@kernel
def waits_chunk(
    stream, direction, flags, ts, payload, window, analysis, low_window, large_segment, streams, times, counts
):  # type: ignore[no-untyped-def]
    """Update the state with one chunk (capture order); rows with stream < 0 are skipped."""
    for i in range(stream.shape[0]):
        s = stream[i]
        if s < 0:
            continue
        t = ts[i]
        last = streams[s, T_LAST]
        if last != NONE and t - last > streams[s, T_MAX_GAP]:
            streams[s, T_MAX_GAP] = t - last
            streams[s, T_GAP_FROM] = last
        streams[s, T_LAST] = t
        d = direction[i]
        w = window[i]
        zero = (analysis[i] & A_ZERO_WINDOW) != 0
        start = times[s, d, X_ZW_START]
        if start == NONE:
            if zero:
                times[s, d, X_ZW_START] = t
        elif w > 0 and not zero:
            span = max(t - start, 0)  # timestamps that go backwards add nothing
            times[s, d, X_ZW_TOTAL] += span
            if span > times[s, d, X_ZW_MAX]:
                times[s, d, X_ZW_MAX] = span
            counts[s, d, C_STALLS] += 1
            times[s, d, X_ZW_START] = NONE
        if (flags[i] & TCP_SYN) == 0 and w >= 0:
            low = times[s, d, X_LOW_START]
            if low == NONE:
                if w < low_window:
                    times[s, d, X_LOW_START] = t
            elif w >= low_window:
                times[s, d, X_LOW_TOTAL] += max(t - low, 0)
                times[s, d, X_LOW_START] = NONE
        n = payload[i]
        if n > 0:
            retx = 1 if (analysis[i] & A_RETRANSMITTED) != 0 else 0
            if n >= large_segment:
                counts[s, d, C_LARGE] += 1
                counts[s, d, C_LARGE_RETX] += retx
            else:
                counts[s, d, C_SMALL] += 1
                counts[s, d, C_SMALL_RETX] += retx
