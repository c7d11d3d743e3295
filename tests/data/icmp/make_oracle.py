"""Write tests/data/icmp/oracle.json: tshark's facts about the captures in this folder.

    python3 tests/data/icmp/make_oracle.py

Every figure comes from tshark fields (two passes, default preferences, `-E occurrence=f`: the outer header
of an ICMP error, not the header it quotes), grouped here in plain Python; `definitions` says how.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
# this folder's capture, and the project's mixed capture (tests/data) for the TCP waits over many connections
CAPTURES = {
    "icmp_netns.pcap": HERE / "icmp_netns.pcap",
    "netns_mixed_s128.pcap": HERE.parent / "netns_mixed_s128.pcap",
}
LOW_WINDOW_BYTES = 8192  # the engine's default `low_window_bytes`
LARGE_SEGMENT = 1000  # the engine's default `pmtu_large_segment_bytes`
FIELDS = [
    "frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
    "icmp.type", "icmp.code", "icmp.mtu", "icmpv6.type", "icmpv6.code", "icmpv6.mtu",
    "tcp.stream", "tcp.srcport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset",
    "tcp.window_size", "tcp.analysis.zero_window", "tcp.analysis.window_update", "tcp.len",
    "tcp.analysis.retransmission", "tcp.analysis.fast_retransmission", "tcp.analysis.spurious_retransmission",
]  # fmt: skip
DEFINITIONS = {
    "icmp.messages": "frames by (icmp.type, icmp.code) for ICMP and (icmpv6.type, icmpv6.code) for ICMPv6, "
    "keyed 'icmp T/C' / 'icmpv6 T/C'",
    "icmp.unreachable": "icmp.type == 3 or icmpv6.type == 1",
    "icmp.fragmentation_needed": "icmp.type == 3 && icmp.code == 4, plus icmpv6.type == 2 (packet too big)",
    "icmp.packet_too_big": "icmpv6.type == 2",
    "icmp.time_exceeded": "icmp.type == 11 or icmpv6.type == 3",
    "icmp.redirects": "icmp.type == 5 or icmpv6.type == 137",
    "icmp.next_hop_mtus": "sorted distinct icmp.mtu (type 3 code 4) and icmpv6.mtu (type 2)",
    "icmp.sources / destinations": "ICMP and ICMPv6 frames by outer ip.src/ipv6.src and ip.dst/ipv6.dst",
    "stalls": "per tcp.stream and sender (tcp.srcport): a stall starts at a frame with "
    "tcp.analysis.zero_window (when none is open) and ends at the next frame from the same side with "
    "tcp.window_size > 0; an open one ends at the stream's last frame. Low window: the same with "
    f"tcp.window_size < {LOW_WINDOW_BYTES} (SYN frames, whose window is not scaled, ignored). ns.",
    "idle": "per tcp.stream: the longest gap between consecutive frames (ns), the last frame's time, and "
    "whether any frame has FIN or RST",
    "icmp.error_frames": "frame numbers of the unreachable, time exceeded and redirect messages",
    "segments": "per tcp.stream and sender (tcp.srcport): data segments (tcp.len > 0) at least / below "
    f"{LARGE_SEGMENT} bytes, and how many of them carry tcp.analysis.(fast_|spurious_)retransmission",
    "syn_intervals": "per tcp.stream: gaps (ns) between the first frame with SYN set and ACK clear and the "
    "later ones flagged tcp.analysis.retransmission",
}


def _ns(epoch: str) -> int:
    return int(Decimal(epoch) * 1_000_000_000)


def _rows(path: Path) -> list[dict[str, str]]:
    cmd = ["tshark", "-n", "-2", "-r", str(path), "-T", "fields", "-E", "occurrence=f", "-E", "separator=\t"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]


def _icmp(rows: list[dict[str, str]]) -> dict[str, object]:
    messages: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    dests: Counter[str] = Counter()
    mtus: set[int] = set()
    n = Counter[str]()
    frames: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        if r["icmp.type"]:
            t, c, fam = int(r["icmp.type"]), int(r["icmp.code"]), "icmp"
            src, dst = r["ip.src"], r["ip.dst"]
            n["unreachable"] += t == 3
            n["fragmentation_needed"] += t == 3 and c == 4
            n["time_exceeded"] += t == 11
            n["redirects"] += t == 5
            if t == 3 and c == 4 and r["icmp.mtu"]:
                mtus.add(int(r["icmp.mtu"]))
        elif r["icmpv6.type"]:
            t, c, fam = int(r["icmpv6.type"]), int(r["icmpv6.code"]), "icmpv6"
            src, dst = r["ipv6.src"], r["ipv6.dst"]
            n["unreachable"] += t == 1
            n["fragmentation_needed"] += t == 2
            n["packet_too_big"] += t == 2
            n["time_exceeded"] += t == 3
            n["redirects"] += t == 137
            if t == 2 and r["icmpv6.mtu"]:
                mtus.add(int(r["icmpv6.mtu"]))
        else:
            continue
        v6 = fam == "icmpv6"
        for kind, types in (("unreachable", (3, 1)), ("time_exceeded", (11, 3)), ("redirect", (5, 137))):
            if t == types[v6]:
                frames[kind].append(int(r["frame.number"]))
        messages[f"{fam} {t}/{c}"] += 1
        sources[src] += 1
        dests[dst] += 1
    keys = ("unreachable", "fragmentation_needed", "packet_too_big", "time_exceeded", "redirects")
    return {
        "messages": dict(sorted(messages.items())),
        **{k: n[k] for k in keys},
        "next_hop_mtus": sorted(mtus),
        "sources": dict(sources.most_common()),
        "destinations": dict(dests.most_common()),
        "error_frames": dict(sorted(frames.items())),
    }


def _intervals(frames: list[tuple[int, int, bool, bool]], last_ns: int) -> list[int]:
    """(ts, window, starts, flagged) of one sender -> stall durations (ns)."""
    out, start = [], None
    for ts, win, starts, _ in frames:
        if start is None:
            if starts:
                start = ts
        elif win > 0 and not starts:
            out.append(max(ts - start, 0))  # time going backwards adds nothing
            start = None
    if start is not None:
        out.append(max(last_ns - start, 0))
    return out


def _segments(rs: list[dict[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = defaultdict(Counter)
    retx = (
        "tcp.analysis.retransmission",
        "tcp.analysis.fast_retransmission",
        "tcp.analysis.spurious_retransmission",
    )
    for r in rs:
        n = int(r["tcp.len"] or 0)
        if n <= 0:
            continue
        size = "large" if n >= LARGE_SEGMENT else "small"
        out[r["tcp.srcport"]][size] += 1
        out[r["tcp.srcport"]][f"{size}_retransmissions"] += any(r[f] == "1" for f in retx)
    return {port: dict(c) for port, c in sorted(out.items())}


def _streams(rows: list[dict[str, str]]) -> dict[str, object]:
    by_stream: dict[int, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        if r["tcp.stream"]:
            by_stream[int(r["tcp.stream"])].append(r)
    out: dict[str, object] = {}
    for stream, rs in sorted(by_stream.items()):
        ts = [_ns(r["frame.time_epoch"]) for r in rs]
        last = ts[-1]
        senders: dict[str, list[tuple[int, int, bool, bool]]] = defaultdict(list)
        low: dict[str, list[tuple[int, int, bool, bool]]] = defaultdict(list)
        for t, r in zip(ts, rs, strict=True):
            win = int(r["tcp.window_size"] or -1)
            zero = r["tcp.analysis.zero_window"] == "1"
            senders[r["tcp.srcport"]].append((t, win, zero, zero))
            if r["tcp.flags.syn"] != "1" and win >= 0:
                below = win < LOW_WINDOW_BYTES
                low[r["tcp.srcport"]].append((t, 1 if not below else 0, below, below))
        stalls = [d for frames in senders.values() for d in _intervals(frames, last)]
        lows = [d for frames in low.values() for d in _intervals(frames, last)]
        # the first SYN, then the SYNs tshark flags as retransmissions (copies captured twice are not)
        pure = [
            (t, r)
            for t, r in zip(ts, rs, strict=True)
            if r["tcp.flags.syn"] == "1" and r["tcp.flags.ack"] == "0"
        ]
        syns = [t for k, (t, r) in enumerate(pure) if k == 0 or r["tcp.analysis.retransmission"] == "1"]
        out[str(stream)] = {
            "frames": len(rs),
            "zero_windows": sum(r["tcp.analysis.zero_window"] == "1" for r in rs),
            "window_updates": sum(r["tcp.analysis.window_update"] == "1" for r in rs),
            "stalls": len(stalls),
            "stall_ns": sum(stalls),
            "longest_stall_ns": max(stalls, default=0),
            "low_window_ns": sum(lows),
            "longest_idle_ns": max((b - a for a, b in zip(ts, ts[1:], strict=False)), default=0),
            "first_ns": ts[0],
            "last_ns": last,
            "closed": any(r["tcp.flags.fin"] == "1" or r["tcp.flags.reset"] == "1" for r in rs),
            "syn_intervals_ns": [b - a for a, b in zip(syns, syns[1:], strict=False)],
            "segments": _segments(rs),
        }
    return out


def main() -> None:
    version = subprocess.run(["tshark", "--version"], check=True, capture_output=True, text=True)
    oracle = {
        "tshark_version": version.stdout.splitlines()[0],
        "low_window_bytes": LOW_WINDOW_BYTES,
        "definitions": DEFINITIONS,
        "captures": {},
    }
    for name, path in CAPTURES.items():
        rows = _rows(path)
        oracle["captures"][name] = {
            "file": {"bytes": path.stat().st_size, "frames": len(rows)},
            "icmp": _icmp(rows),
            "tcp_streams": _streams(rows),
        }
    (HERE / "oracle.json").write_text(json.dumps(oracle, indent=1, sort_keys=False) + "\n")


if __name__ == "__main__":
    main()
