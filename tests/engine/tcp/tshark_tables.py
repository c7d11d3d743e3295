"""Test helper: tshark's view of a capture, as a PacketTable/FlowAssignment and per-frame analysis flags."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from pcap_analyzer.decode.packets import PacketTable
from pcap_analyzer.flows.model import FlowAssignment
from pcap_analyzer.tcp.model import TcpAnalysis

TSHARK = shutil.which("tshark")
INPUT_FIELDS = ["frame.number", "frame.time_epoch", "tcp.stream", "ip.src", "ipv6.src", "tcp.srcport",
                "tcp.seq_raw", "tcp.ack_raw", "tcp.window_size_value", "tcp.len", "tcp.flags",
                "tcp.options.wscale.shift"]
# tshark field -> our bit
FLAG_FIELDS = {
    "retransmission": TcpAnalysis.RETRANSMISSION,
    "fast_retransmission": TcpAnalysis.FAST_RETRANSMISSION,
    "spurious_retransmission": TcpAnalysis.SPURIOUS_RETRANSMISSION,
    "out_of_order": TcpAnalysis.OUT_OF_ORDER,
    "lost_segment": TcpAnalysis.LOST_SEGMENT,
    "ack_lost_segment": TcpAnalysis.ACK_LOST_SEGMENT,
    "duplicate_ack": TcpAnalysis.DUPLICATE_ACK,
    "zero_window": TcpAnalysis.ZERO_WINDOW,
    "zero_window_probe": TcpAnalysis.ZERO_WINDOW_PROBE,
    "zero_window_probe_ack": TcpAnalysis.ZERO_WINDOW_PROBE_ACK,
    "window_full": TcpAnalysis.WINDOW_FULL,
    "window_update": TcpAnalysis.WINDOW_UPDATE,
    "keep_alive": TcpAnalysis.KEEP_ALIVE,
    "keep_alive_ack": TcpAnalysis.KEEP_ALIVE_ACK,
}
TSHARK_BITS = 0
for _bit in FLAG_FIELDS.values():
    TSHARK_BITS |= int(_bit)


def _run(path: Path, fields: list[str]) -> list[list[str]]:
    assert TSHARK is not None
    cmd = [TSHARK, "-r", str(path), "-2", "-T", "fields", "-E", "separator=|", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    # a cut capture makes tshark exit 2 after printing every complete record
    out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    return [line.split("|") for line in out.splitlines()]


def tshark_tables(path: Path) -> tuple[PacketTable, FlowAssignment]:
    """tshark's decoded TCP fields of every frame, for feeding TcpAnalyzer without our decoder."""
    rows = _run(path, INPUT_FIELDS)
    n = len(rows)
    p = PacketTable.empty(n)
    stream = np.full(n, -1, np.int64)
    direction = np.zeros(n, np.uint8)
    initiator: dict[int, str] = {}
    for i, r in enumerate(rows):
        p.frame[i] = int(r[0])
        sec, _, frac = r[1].partition(".")
        p.ts_ns[i] = int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
        if not r[2]:
            continue
        s = int(r[2])
        stream[i] = s
        src = (r[3] or r[4]) + ":" + r[5]
        flags = int(r[10], 16)
        if s not in initiator or (flags & 0x12 == 0x02 and initiator[s].startswith("?")):
            initiator[s] = src if flags & 0x12 != 0x10 | 0x02 else "?" + src
        p.seq[i], p.ack[i], p.win[i], p.payload_len[i] = int(r[6]), int(r[7]), int(r[8]), int(r[9])
        p.tcp_flags[i] = flags
        if r[11]:
            p.wscale[i] = int(r[11])
        p.ip_proto[i] = 6
    for i in np.flatnonzero(stream >= 0):
        src = (rows[i][3] or rows[i][4]) + ":" + rows[i][5]
        first = initiator[int(stream[i])]
        if first.startswith("?"):  # a SYN/ACK came first: its receiver is the initiator
            direction[i] = 1 if src == first[1:] else 0
        else:
            direction[i] = 0 if src == first else 1
    return p, FlowAssignment(conv=stream.copy(), tcp_stream=stream, direction=direction)


def tshark_analysis(path: Path) -> dict[str, np.ndarray]:
    """Per frame: 'bits' (tshark's flags as TcpAnalysis bits), 'ack_rtt'/'rto'/'irtt' (s), 'window'.

    NaN marks an absent field.
    """
    names = list(FLAG_FIELDS)
    fields = ["frame.number"] + [f"tcp.analysis.{n}" for n in names] + [
        "tcp.analysis.ack_rtt", "tcp.analysis.rto", "tcp.analysis.initial_rtt", "tcp.window_size"]
    rows = _run(path, fields)
    n = len(rows)
    bits = np.zeros(n, np.int64)
    keys = ("ack_rtt", "rto", "irtt", "window")
    vals = {k: np.full(n, np.nan) for k in keys}
    for i, r in enumerate(rows):
        for j, name in enumerate(names):
            if r[1 + j]:
                bits[i] |= int(FLAG_FIELDS[name])
        for j, k in enumerate(keys):
            v = r[1 + len(names) + j]
            if v:
                vals[k][i] = float(v)
    return {"bits": bits, **vals}
