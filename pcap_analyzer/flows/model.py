"""What the flow stage hands to later stages: per-packet assignments and the per-conversation table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class FlowAssignment:
    """Per packet of one chunk (same length as its PacketTable).

    Attributes:
        conv: conversation id (0-based, in order of first packet, over the whole capture), -1 = no IP.
            A conversation is a canonical bidirectional (proto, addr, port, addr, port) 5-tuple; for TCP a
            new SYN after a closed or long-idle connection on the same 5-tuple starts a new conversation.
        tcp_stream: Wireshark-compatible `tcp.stream` index (0-based, TCP conversations only), -1 otherwise.
        direction: 0 when the packet goes from endpoint A (the initiator: SYN sender, else first sender)
            to endpoint B, 1 for B to A.
    """

    conv: npt.NDArray[np.int64]
    tcp_stream: npt.NDArray[np.int64]
    direction: npt.NDArray[np.uint8]


@dataclass(slots=True)
class FlowTable:
    """One row per conversation, indexed by conversation id; arrays only (no Python object per flow).

    Endpoints use the PacketTable address convention (two uint64 halves, IPv4-mapped for IPv4).
    Counts split by direction: `_ab` is A to B (initiator to responder), `_ba` the reverse.
    """

    ip_proto: npt.NDArray[np.uint8]
    a_hi: npt.NDArray[np.uint64]
    a_lo: npt.NDArray[np.uint64]
    b_hi: npt.NDArray[np.uint64]
    b_lo: npt.NDArray[np.uint64]
    a_port: npt.NDArray[np.uint16]
    b_port: npt.NDArray[np.uint16]
    tcp_stream: npt.NDArray[np.int64]  # -1 for non-TCP
    first_frame: npt.NDArray[np.int64]
    last_frame: npt.NDArray[np.int64]
    first_ts_ns: npt.NDArray[np.int64]
    last_ts_ns: npt.NDArray[np.int64]
    packets_ab: npt.NDArray[np.int64]
    packets_ba: npt.NDArray[np.int64]
    bytes_ab: npt.NDArray[np.int64]  # wire bytes (frame.len)
    bytes_ba: npt.NDArray[np.int64]
    payload_ab: npt.NDArray[np.int64]  # transport payload bytes
    payload_ba: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.ip_proto.shape[0])
