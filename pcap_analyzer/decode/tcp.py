"""TCP header (RFC 9293) and the options the analysis needs: MSS, window scale, SACK, timestamps."""

from __future__ import annotations

import numpy as np

from pcap_analyzer.decode.fields import Header, be16, be32
from pcap_analyzer.decode.packets import MAX_SACK_BLOCKS
from pcap_analyzer.jit import kernel

TCP = Header(
    "tcp",
    ("srcport", 2),
    ("dstport", 2),
    ("seq_raw", 4),
    ("ack_raw", 4),
    ("hdr_len_flags", 2),  # data offset (4 bits), reserved (3), NS (1, RFC 3540), CWR..FIN (8)
    ("window_size_value", 2),
    ("checksum", 2),
    ("urgent_pointer", 2),
)
TCP_SRCPORT = TCP.offset("srcport")
TCP_DSTPORT = TCP.offset("dstport")
TCP_SEQ = TCP.offset("seq_raw")
TCP_ACK = TCP.offset("ack_raw")
TCP_OFF_FLAGS = TCP.offset("hdr_len_flags")
TCP_WIN = TCP.offset("window_size_value")

TCPOPT_EOL = 0  # RFC 9293
TCPOPT_NOP = 1  # RFC 9293
TCPOPT_MSS = 2  # RFC 9293
TCPOPT_WINDOW = 3  # RFC 7323
TCPOPT_SACK_PERM = 4  # RFC 2018
TCPOPT_SACK = 5  # RFC 2018
TCPOPT_TIMESTAMP = 8  # RFC 7323
TCPOLEN_MSS = 4
TCPOLEN_WINDOW = 3
TCPOLEN_SACK_PERM = 2
TCPOLEN_TIMESTAMP = 10
TCP_MAX_WINSHIFT = 14  # RFC 7323 2.3: larger shifts are treated as 14


TCP_LEN = TCP.size


@kernel
def decode_tcp_options(
    buf: np.ndarray,
    p: int,
    end: int,
    i: int,
    mss: np.ndarray,
    wscale: np.ndarray,
    sack_perm: np.ndarray,
    has_ts: np.ndarray,
    ts_val: np.ndarray,
    ts_ecr: np.ndarray,
    sack_count: np.ndarray,
    sack_left: np.ndarray,
    sack_right: np.ndarray,
) -> None:
    """Options in buf[p:end] of packet i; stops quietly at EOL, a bad length, or the end of the bytes."""
    while p < end:
        kind = buf[p]
        if kind == TCPOPT_EOL:
            return
        if kind == TCPOPT_NOP:
            p += 1
            continue
        if p + 1 >= end:
            return
        olen = np.int64(buf[p + 1])
        if olen < 2 or p + olen > end:
            return
        if kind == TCPOPT_MSS and olen == TCPOLEN_MSS:
            mss[i] = be16(buf, p + 2)
        elif kind == TCPOPT_WINDOW and olen == TCPOLEN_WINDOW:
            wscale[i] = min(np.int64(buf[p + 2]), TCP_MAX_WINSHIFT)
        elif kind == TCPOPT_SACK_PERM and olen == TCPOLEN_SACK_PERM:
            sack_perm[i] = True
        elif kind == TCPOPT_TIMESTAMP and olen == TCPOLEN_TIMESTAMP:
            has_ts[i] = True
            ts_val[i] = be32(buf, p + 2)
            ts_ecr[i] = be32(buf, p + 6)
        elif kind == TCPOPT_SACK and (olen - 2) % 8 == 0:
            n = min((olen - 2) // 8, MAX_SACK_BLOCKS)
            for b in range(n):
                sack_left[i, b] = be32(buf, p + 2 + 8 * b)
                sack_right[i, b] = be32(buf, p + 6 + 8 * b)
            sack_count[i] = n
        p += olen
