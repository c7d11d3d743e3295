"""Write tests/data/fragments/oracle.json: tshark's view of the fragmentation captures in this folder.

    python3 tests/data/fragments/make_oracle.py

tshark runs with two passes and default preferences (ip.defragment and ipv6.defragment on): the transport
layer of a fragmented datagram is dissected on the frame that completes it. Per capture, from the fields of
every frame (`definitions` says how each figure is made):
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAPTURES = ("fragments_netns.pcap", "fragments_reordered.pcap")
FIELDS = [
    "frame.number", "frame.len", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
    "udp.srcport", "udp.dstport", "udp.length", "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.len",
    "tcp.flags.syn", "tcp.flags.ack", "dns.id", "dns.flags.response", "dns.qry.name",
    "ip.reassembled_in", "ipv6.reassembled.in",
]  # fmt: skip
DEFINITIONS = {
    "frames": "frames in the capture",
    "udp": "frame number -> [udp.srcport, udp.dstport, udp.length - 8] for every frame with UDP",
    "tcp": "frame number -> [tcp.stream, tcp.srcport, tcp.dstport, tcp.len] for every frame with TCP "
    "(tcp.len null where tshark gives none: a first fragment it could not reassemble)",
    "dns": "frame number -> [dns.id, dns.flags.response, first dns.qry.name] for every frame with DNS",
    "reassembled_in": "frame number -> the frame ip.reassembled_in / ipv6.reassembled.in names (fragments of "
    "datagrams tshark reassembled)",
    "fragments_not_reassembled": "frames with an IPv4 or IPv6 fragment (ip.flags.mf or ip.frag_offset > 0, "
    "ipv6.fraghdr) that no reassembled datagram took in",
    "counts": "udp_frames, tcp_frames, tcp_streams (distinct tcp.stream), tcp_payload (sum of tcp.len), "
    "dns_queries / dns_responses (dns.flags.response 0 / 1)",
    "conversations": "canonical 'proto a:port b:port' (sorted endpoints) -> frames with that UDP or TCP "
    "header (tshark -z conv,udp / conv,tcp count the same frames)",
    "address_pairs": "sorted 'a b' address pair -> [frames, bytes (frame.len)], as tshark -z conv,ip",
}


def _rows(path: Path, fields: list[str], display_filter: str | None = None) -> list[dict[str, str]]:
    cmd = ["tshark", "-n", "-2", "-r", str(path), "-T", "fields", "-E", "occurrence=f", "-E", "separator=\t"]
    if display_filter:
        cmd += ["-Y", display_filter]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [dict(zip(fields, line.split("\t"), strict=True)) for line in out.splitlines()]


def facts(path: Path) -> dict[str, object]:
    """tshark's facts about one capture (see DEFINITIONS)."""
    rows = _rows(path, FIELDS)
    udp, tcp, dns, reassembled_in = {}, {}, {}, {}
    conversations: Counter[str] = Counter()
    pairs: dict[str, list[int]] = {}
    for r in rows:
        frame = r["frame.number"]
        src, dst = r["ip.src"] or r["ipv6.src"], r["ip.dst"] or r["ipv6.dst"]
        if src:
            pair = pairs.setdefault(" ".join(sorted((src, dst))), [0, 0])
            pair[0] += 1
            pair[1] += int(r["frame.len"])
        if r["udp.srcport"]:
            udp[frame] = [int(r["udp.srcport"]), int(r["udp.dstport"]), int(r["udp.length"]) - 8]
            ends = sorted(((src, int(r["udp.srcport"])), (dst, int(r["udp.dstport"]))))
            conversations[f"udp {ends[0][0]}:{ends[0][1]} {ends[1][0]}:{ends[1][1]}"] += 1
        if r["tcp.srcport"]:
            length = int(r["tcp.len"]) if r["tcp.len"] else None  # none on an unreassembled first fragment
            tcp[frame] = [int(r["tcp.stream"]), int(r["tcp.srcport"]), int(r["tcp.dstport"]), length]
            ends = sorted(((src, int(r["tcp.srcport"])), (dst, int(r["tcp.dstport"]))))
            conversations[f"tcp {ends[0][0]}:{ends[0][1]} {ends[1][0]}:{ends[1][1]}"] += 1
        if r["dns.id"]:
            response = int(r["dns.flags.response"] in ("1", "True"))
            dns[frame] = [int(r["dns.id"], 16), response, r["dns.qry.name"]]
        into = r["ip.reassembled_in"] or r["ipv6.reassembled.in"]
        if into:
            reassembled_in[frame] = int(into)
    fragments = _rows(path, ["frame.number"], "ip.flags.mf == 1 || ip.frag_offset > 0 || ipv6.fraghdr")
    completing = set(reassembled_in.values())
    lone = [int(r["frame.number"]) for r in fragments if r["frame.number"] not in reassembled_in]
    return {
        "frames": len(rows),
        "counts": {
            "udp_frames": len(udp),
            "tcp_frames": len(tcp),
            "tcp_streams": len({v[0] for v in tcp.values()}),
            "tcp_payload": sum(v[3] or 0 for v in tcp.values()),
            "dns_queries": sum(1 for v in dns.values() if not v[1]),
            "dns_responses": sum(1 for v in dns.values() if v[1]),
        },
        "udp": udp,
        "tcp": tcp,
        "dns": dns,
        "reassembled_in": reassembled_in,
        "fragments_not_reassembled": [f for f in lone if f not in completing],
        "conversations": dict(sorted(conversations.items())),
        "address_pairs": dict(sorted(pairs.items())),
    }


def main() -> None:
    version = subprocess.run(["tshark", "--version"], check=True, capture_output=True, text=True).stdout
    oracle = {
        "tshark": version.splitlines()[0],
        "definitions": DEFINITIONS,
        "captures": {name: facts(HERE / name) for name in CAPTURES},
    }
    (HERE / "oracle.json").write_text(json.dumps(oracle, indent=1) + "\n")


if __name__ == "__main__":
    main()
