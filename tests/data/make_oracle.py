"""Write tests/data/oracle.json: tshark's facts about every capture in tests/data (or another folder).

    python tests/data/make_oracle.py [FOLDER]

Standard library and tshark only. tshark reads each capture with two-pass analysis (`-2`) and default
preferences (WIRESHARK_CONFIG_DIR is an empty temporary folder), printing one row of fields per frame;
every figure below is computed from those rows, as the "definitions" written into the file say. The
tshark version is recorded; the tests compare the engine's results with these facts.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from itertools import pairwise
from pathlib import Path
from statistics import fmean
from typing import Any

HERE = Path(__file__).resolve().parent

# tcp.analysis.<flag> fields counted per frame
TCP_FLAGS = (
    "retransmission fast_retransmission spurious_retransmission duplicate_ack zero_window window_full "
    "keep_alive keep_alive_ack out_of_order lost_segment ack_lost_segment zero_window_probe "
    "zero_window_probe_ack window_update reused_ports"
).split()
FIELDS = (
    "frame.number frame.time_epoch frame.len frame.cap_len ip.src ip.dst ipv6.src ipv6.dst "
    "tcp.stream tcp.srcport tcp.dstport tcp.flags.syn tcp.flags.ack tcp.flags.reset tcp.flags.fin tcp.len "
    "tcp.analysis.ack_rtt tcp.analysis.initial_rtt tcp.analysis.rto "
    + " ".join(f"tcp.analysis.{f}" for f in TCP_FLAGS)
    + " udp.srcport udp.dstport udp.length dns.flags.response dns.id dns.time dns.response_in "
    "dns.retransmission dns.unsolicited dns.flags.rcode icmp.type icmpv6.type"
).split()
MAGIC_FORMATS = {
    b"\x0a\x0d\x0d\x0a": "pcapng",
    b"\xd4\xc3\xb2\xa1": "pcap",
    b"\xa1\xb2\xc3\xd4": "pcap",
    b"\x4d\x3c\xb2\xa1": "pcap-ns",
    b"\xa1\xb2\x3c\x4d": "pcap-ns",
}
DEFINITIONS = {
    "median_p95": "linear interpolation between closest ranks, rank = q*(n-1) (numpy default)",
    "tcp.analysis.*": "number of frames where tshark -2 sets tcp.analysis.<flag>",
    "handshake_delay_s": "per stream: first SYN (SYN=1,ACK=0) to first SYN/ACK",
    "ack_rtt_s": "all tcp.analysis.ack_rtt values",
    "initial_rtt_s": "first tcp.analysis.initial_rtt per stream",
    "rto_s": "all tcp.analysis.rto values (retransmission: time since the original)",
    "dns.unanswered_queries": "query frames (dns.flags.response==0) without dns.response_in",
    "dns.unanswered_queries_excluding_retransmissions": "the same, without frames marked dns.retransmission",
    "dns.time_s": "dns.time of response frames",
    "udp jitter": "one-way UDP flows (DNS, ICMP-quoted and TCP excluded) of 20 packets or more: "
    "a_i = frame.time_epoch; T = median(a_i - a_{i-1}); D_i = (a_i - a_{i-1}) - T; "
    "J_1 = 0; J_i = J_{i-1} + (|D_i| - J_{i-1})/16; final/mean/max of J_i in ms. "
    "rtp variant: D_i = (a_i - a_{i-1}) - (rtp.timestamp_i - rtp.timestamp_{i-1})/8000",
    "throughput": "sum(frame.len)*8 / (last - first frame time); max_1s: largest 1-s bucket from first frame",
    "top_talkers": "bytes by ip.src/ipv6.src; conversations by unordered address pair",
}


class Frame(dict):
    """One tshark output row: field name -> text ("" when tshark did not set the field)."""

    def on(self, field: str) -> bool:
        return self[field] not in ("", "0", "False", "false")

    def num(self, field: str) -> float:
        return float(self[field])

    def address(self, side: str) -> str:
        return self[f"ip.{side}"] or self[f"ipv6.{side}"]


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (rank q * (n - 1) of the sorted values)."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def describe(values: list[float], scale: float = 1.0, digits: int = 6) -> dict[str, Any]:
    """count, min, median, p95, mean, max of `values` times `scale`, rounded."""
    if not values:
        return dict.fromkeys(("min", "median", "p95", "mean", "max"), None) | {"count": 0}
    figures = {
        "min": min(values),
        "median": quantile(values, 0.5),
        "p95": quantile(values, 0.95),
        "mean": fmean(values),
        "max": max(values),
    }
    return {"count": len(values)} | {k: round(v * scale, digits) for k, v in figures.items()}


def rfc3550_jitter(arrivals: list[float], sent: list[float] | None = None) -> dict[str, float] | None:
    """Interarrival jitter J_i = J_{i-1} + (|D_i| - J_{i-1}) / 16 at the last packet, mean and max (ms).

    D_i compares the arrival spacing with the send spacing, or with the median arrival spacing when
    the send times are unknown.
    """
    if len(arrivals) < 3:
        return None
    steps = [b - a for a, b in pairwise(arrivals)]
    nominal = quantile(steps, 0.5)
    jitter, history = 0.0, []
    for i, step in enumerate(steps, start=1):
        expected = sent[i] - sent[i - 1] if sent else nominal
        jitter += (abs(step - expected) - jitter) / 16
        history.append(jitter)
    return {
        "final_ms": round(jitter * 1000, 4),
        "mean_ms": round(fmean(history) * 1000, 4),
        "max_ms": round(max(history) * 1000, 4),
    }


def run_tshark(args: list[str], folder: Path, env: dict[str, str]) -> tuple[int, str, str | None]:
    """tshark in `folder` (so only bare file names reach its output): exit status, stdout, real stderr."""
    proc = subprocess.run(["tshark", *args], cwd=folder, env=env, capture_output=True, text=True)
    noise = ("Running as user", "could be dangerous")
    errors = [line for line in proc.stderr.splitlines() if line.strip() and not any(n in line for n in noise)]
    return proc.returncode, proc.stdout, "\n".join(errors) or None


def file_facts(path: Path, frames: list[Frame], status: int, stderr: str | None) -> dict[str, Any]:
    times = [f.num("frame.time_epoch") for f in frames]
    caplens = [int(f["frame.cap_len"]) for f in frames]
    cut = sum(int(f["frame.cap_len"]) < int(f["frame.len"]) for f in frames)
    return {
        "bytes": path.stat().st_size,
        "format": MAGIC_FORMATS.get(path.read_bytes()[:4], "unknown"),
        "tshark_exit_status": status,
        "tshark_stderr": stderr,
        "frames": len(frames),
        "frames_caplen_lt_len": cut,
        "max_caplen": max(caplens, default=None),
        "first_epoch": round(min(times), 6) if times else None,
        "last_epoch": round(max(times), 6) if times else None,
        "duration_s": round(max(times) - min(times), 6) if times else None,
        "max_interframe_gap_s": round(max((b - a for a, b in pairwise(times)), default=0.0), 6),
    }


def _count(frames: Iterable[Frame], test: Callable[[Frame], bool]) -> int:
    return sum(1 for f in frames if test(f))


def _is_syn(f: Frame) -> bool:
    return f.on("tcp.flags.syn") and not f.on("tcp.flags.ack")


def _is_synack(f: Frame) -> bool:
    return f.on("tcp.flags.syn") and f.on("tcp.flags.ack")


def tcp_facts(frames: list[Frame]) -> dict[str, Any]:
    tcp = [f for f in frames if f["tcp.stream"]]
    streams: dict[int, list[Frame]] = defaultdict(list)
    for f in tcp:
        streams[int(f["tcp.stream"])].append(f)
    handshakes, initial_rtts, idle_gaps, without_synack, repeated_syn = [], [], [], 0, 0
    top = []
    for sid, members in streams.items():
        times = [f.num("frame.time_epoch") for f in members]
        if len(times) > 1:
            idle_gaps.append(max(b - a for a, b in pairwise(times)))
        syns = [f.num("frame.time_epoch") for f in members if _is_syn(f)]
        synacks = [f.num("frame.time_epoch") for f in members if _is_synack(f)]
        repeated_syn += len(syns) > 1
        if syns and synacks and synacks[0] >= syns[0]:
            handshakes.append(synacks[0] - syns[0])
        elif syns and not synacks:
            without_synack += 1
        irtts = [f.num("tcp.analysis.initial_rtt") for f in members if f["tcp.analysis.initial_rtt"]]
        initial_rtts += irtts[:1]
        opener = members[0]
        top.append(
            {
                "stream": sid,
                "first_frame_from": f"{opener.address('src')}:{opener['tcp.srcport']}",
                "first_frame_to": f"{opener.address('dst')}:{opener['tcp.dstport']}",
                "frames": len(members),
                "bytes": sum(int(f["frame.len"]) for f in members),
                "tcp_payload_bytes": sum(int(f["tcp.len"] or 0) for f in members),
                "retransmission": _count(members, lambda f: f.on("tcp.analysis.retransmission")),
            }
        )
    top.sort(key=lambda s: -s["bytes"])
    return {
        "frames": len(tcp),
        "streams": len(streams),
        "syn_frames": _count(tcp, _is_syn),
        "synack_frames": _count(tcp, _is_synack),
        "rst_frames": _count(tcp, lambda f: f.on("tcp.flags.reset")),
        "streams_with_rst": len({f["tcp.stream"] for f in tcp if f.on("tcp.flags.reset")}),
        "fin_frames": _count(tcp, lambda f: f.on("tcp.flags.fin")),
        "payload_bytes": sum(int(f["tcp.len"] or 0) for f in tcp),
        "analysis": {flag: _count(tcp, lambda f, k=f"tcp.analysis.{flag}": f.on(k)) for flag in TCP_FLAGS},
        "handshake_delay_s": describe(handshakes)
        | {"streams_syn_without_synack": without_synack, "streams_with_repeated_syn": repeated_syn},
        "ack_rtt_s": describe([f.num("tcp.analysis.ack_rtt") for f in tcp if f["tcp.analysis.ack_rtt"]]),
        "initial_rtt_s": describe(initial_rtts),
        "rto_s": describe([f.num("tcp.analysis.rto") for f in tcp if f["tcp.analysis.rto"]]),
        "max_idle_gap_within_a_stream_s": round(max(idle_gaps), 6) if idle_gaps else None,
        "top_streams_by_bytes": top[:5],
    }


def dns_facts(frames: list[Frame]) -> dict[str, Any]:
    dns = [f for f in frames if f["dns.flags.response"]]
    queries = [f for f in dns if not f.on("dns.flags.response")]
    responses = [f for f in dns if f.on("dns.flags.response")]
    unanswered = [f for f in queries if not f["dns.response_in"]]
    return {
        "queries": len(queries),
        "responses": len(responses),
        "unanswered_queries": len(unanswered),
        "unanswered_queries_excluding_retransmissions": _count(
            unanswered, lambda f: not f.on("dns.retransmission")
        ),
        "retransmitted_queries": _count(queries, lambda f: f.on("dns.retransmission")),
        "retransmitted_responses": _count(responses, lambda f: f.on("dns.retransmission")),
        "unsolicited_responses": _count(responses, lambda f: f.on("dns.unsolicited")),
        "rcodes": dict(sorted(Counter(f["dns.flags.rcode"] for f in responses).items())),
        "time_s": describe([f.num("dns.time") for f in responses if f["dns.time"]]),
    }


def udp_flows(frames: list[Frame]) -> list[dict[str, Any]]:
    """One-way UDP flows of 20 packets or more (not DNS, not quoted in ICMP), most packets first."""
    flows: dict[tuple[str, str], list[Frame]] = defaultdict(list)
    for f in frames:
        if not f["udp.srcport"] or f["tcp.stream"] or f["icmp.type"] or f["icmpv6.type"]:
            continue
        if f["dns.flags.response"] or "53" in (f["udp.srcport"], f["udp.dstport"]):
            continue
        flows[(f"{f.address('src')}:{f['udp.srcport']}", f"{f.address('dst')}:{f['udp.dstport']}")].append(f)
    facts = []
    for (src, dst), members in sorted(flows.items(), key=lambda item: -len(item[1])):
        if len(members) < 20:
            continue
        times = [f.num("frame.time_epoch") for f in members]
        steps = [b - a for a, b in pairwise(times)]
        nominal = quantile(steps, 0.5)
        facts.append(
            {
                "src": src,
                "dst": dst,
                "packets": len(members),
                "udp_payload_bytes": sum(int(f["udp.length"] or 8) - 8 for f in members),
                "duration_s": round(times[-1] - times[0], 6),
                "interarrival_ms": describe(steps, 1000.0, 4),
                "nominal_interval_ms": round(nominal * 1000, 4),
                "late_packets_gt_1_5T": sum(s > 1.5 * nominal for s in steps),
                "early_packets_lt_0_5T": sum(s < 0.5 * nominal for s in steps),
                "jitter_rfc3550_capture_time": rfc3550_jitter(times),
            }
        )
    return facts


RTP_FIELDS = "frame.time_epoch ip.src ipv6.src udp.srcport ip.dst ipv6.dst udp.dstport rtp.ssrc rtp.seq "
RTP_FIELDS += "rtp.timestamp rtp.p_type"
# one line of `tshark -z rtp,streams`: start, end, src, port, dst, port, ssrc, payload, packets, lost (pct),
# min/mean/max delta, min/mean/max jitter, problem
RTP_STREAM_LINE = re.compile(
    r"\s*[\d.]+\s+[\d.]+\s+(?P<src>\S+)\s+(?P<sport>\d+)\s+(?P<dst>\S+)\s+(?P<dport>\d+)\s+(?P<ssrc>0x[0-9A-Fa-f]+)"
    r"\s+(?P<payload>.+?)\s+(?P<packets>\d+)\s+(?P<lost>-?\d+)\s+\(-?[\d.]+%\)"
    r"\s+(?P<dmin>[\d.]+)\s+(?P<dmean>[\d.]+)\s+(?P<dmax>[\d.]+)"
    r"\s+(?P<jmin>[\d.]+)\s+(?P<jmean>[\d.]+)\s+(?P<jmax>[\d.]+)\s*(?P<problem>.*)$"
)
EIGHT_KHZ_PAYLOADS = {"0", "3", "8", "18"}  # PCMU, GSM, PCMA, G.729


def rtp_facts(name: str, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    """The UDP flows decoded as RTP (heuristic rtp_udp): RFC 3550 jitter from rtp.timestamp, and tshark's
    own `-z rtp,streams` table."""
    fields = RTP_FIELDS.split()
    args = ["-r", name, "-2", "--enable-heuristic", "rtp_udp", "-Y", "rtp", "-T", "fields"]
    args += ["-E", "separator=/t", "-E", "occurrence=f", *(x for f in fields for x in ("-e", f))]
    _, out, _ = run_tshark(args, folder, env)
    packets: dict[tuple[str, str], list[Frame]] = defaultdict(list)
    for line in out.splitlines():
        row = Frame(zip(fields, line.split("\t") + [""] * len(fields), strict=False))
        if row["rtp.timestamp"]:
            key = (f"{row.address('src')}:{row['udp.srcport']}", f"{row.address('dst')}:{row['udp.dstport']}")
            packets[key].append(row)
    flows = []
    for (src, dst), members in sorted(packets.items()):
        if len(members) < 20:
            continue
        first = members[0]
        flow: dict[str, Any] = {
            "src": src,
            "dst": dst,
            "ssrc": first["rtp.ssrc"],
            "payload_type": first["rtp.p_type"],
            "packets": len(members),
        }
        if first["rtp.p_type"] in EIGHT_KHZ_PAYLOADS:
            base = int(first["rtp.timestamp"])
            sent = [((int(m["rtp.timestamp"]) - base) & 0xFFFFFFFF) / 8000 for m in members]
            arrivals = [m.num("frame.time_epoch") for m in members]
            flow["jitter_rfc3550_rtp_timestamp"] = rfc3550_jitter(arrivals, sent)
        flows.append(flow)
    args = ["-r", name, "-2", "-q", "--enable-heuristic", "rtp_udp", "-z", "rtp,streams"]
    _, table, _ = run_tshark(args, folder, env)
    streams = []
    for line in table.splitlines():
        if m := RTP_STREAM_LINE.match(line):
            g = m.groupdict()
            streams.append(
                {
                    "src": f"{g['src']}:{g['sport']}",
                    "dst": f"{g['dst']}:{g['dport']}",
                    "ssrc": g["ssrc"],
                    "payload": g["payload"].strip(),
                    "packets": int(g["packets"]),
                    "lost": int(g["lost"]),
                    "min_delta_ms": float(g["dmin"]),
                    "mean_delta_ms": float(g["dmean"]),
                    "max_delta_ms": float(g["dmax"]),
                    "min_jitter_ms": float(g["jmin"]),
                    "mean_jitter_ms": float(g["jmean"]),
                    "max_jitter_ms": float(g["jmax"]),
                    "problem": g["problem"].strip() or None,
                }
            )
    return {"flows": flows, "tshark_rtp_streams": streams}


def traffic_facts(frames: list[Frame]) -> dict[str, Any]:
    """throughput, top_talkers and top_conversations."""
    times = [f.num("frame.time_epoch") for f in frames]
    total = sum(int(f["frame.len"]) for f in frames)
    duration = max(times) - min(times) if times else 0.0
    per_second: Counter[int] = Counter()
    talkers: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    pairs: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    start = min(times, default=0.0)
    for f, t in zip(frames, times, strict=True):
        size = int(f["frame.len"])
        per_second[int(t - start)] += size
        src, dst = f.address("src") or "non-ip", f.address("dst") or "non-ip"
        for table, key in ((talkers, src), (pairs, " <-> ".join(sorted((src, dst))))):
            table[key][0] += size
            table[key][1] += 1

    def top(table: dict[str, list[int]], label: str) -> list[dict[str, Any]]:
        ranked = sorted(table.items(), key=lambda item: (-item[1][0], item[0]))[:5]
        return [{label: key, "bytes": b, "frames": n} for key, (b, n) in ranked]

    return {
        "throughput": {
            "bytes": total,
            "duration_s": round(duration, 6),
            "bits_per_s": round(total * 8 / duration, 1) if duration > 0 else None,
            "max_1s_bits_per_s": max(per_second.values()) * 8 if per_second else None,
        },
        "top_talkers": top(talkers, "address"),
        "top_conversations": top(pairs, "pair"),
    }


def capture_facts(path: Path, env: dict[str, str]) -> dict[str, Any]:
    """Every fact about one capture."""
    args = ["-r", path.name, "-2", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"]
    args += ["-E", "quote=n", *(x for f in FIELDS for x in ("-e", f))]
    status, out, stderr = run_tshark(args, path.parent, env)
    rows = (line.split("\t") + [""] * len(FIELDS) for line in out.splitlines() if line)
    frames = [Frame(zip(FIELDS, row, strict=False)) for row in rows]
    facts = {
        "file": file_facts(path, frames, status, stderr),
        "tcp": tcp_facts(frames),
        "dns": dns_facts(frames),
        "udp": {"flows_with_20_or_more_packets": udp_flows(frames)},
    }
    if facts["udp"]["flows_with_20_or_more_packets"]:
        facts["rtp"] = rtp_facts(path.name, path.parent, env)
    return facts | traffic_facts(frames)


def main() -> None:
    folder = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE
    captures = sorted(p for p in folder.iterdir() if re.search(r"\.(pcap|pcapng|cap)(\.gz)?$", p.name))
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True, check=True).stdout
    oracle: dict[str, Any] = {
        "oracle": "tests/data/make_oracle.py",
        "tshark_version": version.splitlines()[0],
        "generated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "tshark -r FILE -2 -T fields -E separator=/t -E occurrence=f -e ... (default preferences)",
        "definitions": DEFINITIONS,
        "captures": {},
    }
    with tempfile.TemporaryDirectory() as empty_config:
        env = dict(os.environ, WIRESHARK_CONFIG_DIR=empty_config, LC_ALL="C")
        for path in captures:
            started = time.monotonic()
            oracle["captures"][path.name] = facts = capture_facts(path, env)
            print(f"{path.name:32} {facts['file']['frames']:>8} frames {time.monotonic() - started:6.1f} s")
    (folder / "oracle.json").write_text(json.dumps(oracle, indent=1) + "\n")


if __name__ == "__main__":
    main()
