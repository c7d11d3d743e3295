"""Zeek-style conn_state of each TCP connection, from per-direction SYN/FIN/RST counts."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pcap_analyzer.tcp.state import D_FIN, D_RST, D_SYN, D_SYNACK, S_FIRST_SYN_TS


def conn_state(orig_syn: bool, resp_synack: bool, orig_fin: bool, resp_fin: bool,
               orig_rst: bool, resp_rst: bool) -> str:
    """Zeek's conn_state for one connection (orig = initiator, resp = responder)."""
    if not orig_syn and not resp_synack:
        return "OTH"
    if not resp_synack:  # SYN never answered with SYN/ACK
        if resp_rst:
            return "REJ"
        if orig_rst:
            return "RSTOS0"
        if orig_fin:
            return "SH"
        return "S0"
    if not orig_syn:  # SYN/ACK without the SYN
        if resp_rst:
            return "RSTRH"
        if resp_fin:
            return "SHR"
        return "OTH"
    if orig_rst:
        return "RSTO"
    if resp_rst:
        return "RSTR"
    if orig_fin and resp_fin:
        return "SF"
    if orig_fin:
        return "S2"
    if resp_fin:
        return "S3"
    return "S1"


# conn_state of every combination of its six inputs; bit i of the index is its i-th argument.
_BY_CODE = np.array([conn_state(*(bool(code >> bit & 1) for bit in range(6))) for code in range(64)], object)


def conn_states(dirs: npt.NDArray[np.int32], streams: npt.NDArray[np.int64]) -> list[str]:
    """conn_state per stream; direction 0 is the initiator (FlowAssignment convention)."""
    syn_only = dirs[:, :, D_SYN] - dirs[:, :, D_SYNACK]
    flags = (
        (syn_only[:, 0] > 0) | (streams[:, S_FIRST_SYN_TS] >= 0) & (syn_only[:, 1] > 0),  # orig SYN
        (dirs[:, 1, D_SYNACK] > 0) | (dirs[:, 0, D_SYNACK] > 0),  # resp SYN/ACK
        dirs[:, 0, D_FIN] > 0,
        dirs[:, 1, D_FIN] > 0,
        dirs[:, 0, D_RST] > 0,
        dirs[:, 1, D_RST] > 0,
    )
    code = np.zeros(dirs.shape[0], np.int64)
    for bit, flag in enumerate(flags):
        code |= flag.astype(np.int64) << bit
    return _BY_CODE[code].tolist()  # type: ignore[no-any-return]
