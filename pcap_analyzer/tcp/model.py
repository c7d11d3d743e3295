"""What the TCP stage hands to later stages, per chunk."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag

import numpy as np
import numpy.typing as npt


class TcpAnalysis(IntFlag):
    """Per-packet analysis bits, each one a Wireshark `tcp.analysis.<name>` flag (or ours, noted)."""

    RETRANSMISSION = 1 << 0
    FAST_RETRANSMISSION = 1 << 1
    SPURIOUS_RETRANSMISSION = 1 << 2
    OUT_OF_ORDER = 1 << 3
    LOST_SEGMENT = 1 << 4  # "previous segment not captured"
    ACK_LOST_SEGMENT = 1 << 5  # "ACKed segment that wasn't captured"
    DUPLICATE_ACK = 1 << 6
    ZERO_WINDOW = 1 << 7
    ZERO_WINDOW_PROBE = 1 << 8
    ZERO_WINDOW_PROBE_ACK = 1 << 9
    WINDOW_FULL = 1 << 10
    WINDOW_UPDATE = 1 << 11
    KEEP_ALIVE = 1 << 12
    KEEP_ALIVE_ACK = 1 << 13
    REUSED_PORTS = 1 << 14
    RST = 1 << 15  # ours: the packet carries RST (not a tshark analysis flag)
    SYN_RETRANSMISSION = 1 << 16  # ours: a SYN (or SYN/ACK) seen again on the same connection
    RTO_RETRANSMISSION = 1 << 17  # ours: a retransmission not preceded by 3 dup ACKs (timeout-driven)


@dataclass(slots=True)
class TcpChunkResult:
    """Per packet of one chunk (same length as its PacketTable); values for non-TCP packets are unset.

    Attributes:
        analysis: uint32 TcpAnalysis bits.
        ack_rtt_ns: int64, `tcp.analysis.ack_rtt` of this ACK in ns, -1 when it has none.
        rto_ns: int64, for retransmissions the time since the original segment (`tcp.analysis.rto`),
            -1 otherwise; negative (as tshark's) when the resend is stamped before the original, such
            values are left out of the RTO statistics.
        window: int64, the receive window with window scaling applied (`tcp.window_size`), -1 when unknown.
        rel_seq: uint32, sequence number relative to the direction's ISN (`tcp.seq`).
    """

    analysis: npt.NDArray[np.uint32]
    ack_rtt_ns: npt.NDArray[np.int64]
    rto_ns: npt.NDArray[np.int64]
    window: npt.NDArray[np.int64]
    rel_seq: npt.NDArray[np.uint32]
