"""Compare the engine with tshark's oracle on ../shared/public-corpus, per kind of check.

Usage: python benchmarks/public_corpus_compare.py [--corpus DIR] [--json OUT]

A file agrees on a kind when every count of that kind is within max(2, 1 %) of tshark's (durations within
1e-5 s). Kinds: duration (capture.duration_s), tcp (streams, SYN, SYN/ACK, RST and the tcp.analysis flags),
dns (queries, responses). Prints, per kind, how many files agree, and the whole-file agreement.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pcap_analyzer.api import analyze

ROOT = Path(__file__).resolve().parents[1]
TCP = {
    "conversations": ("streams",),
    "syn": ("syn_frames",),
    "syn_ack": ("synack_frames",),
    "resets": ("rst_frames",),
    "retransmissions": ("analysis", "retransmission"),
    "fast_retransmissions": ("analysis", "fast_retransmission"),
    "out_of_order": ("analysis", "out_of_order"),
    "lost_segments": ("analysis", "lost_segment"),
    "ack_lost_segments": ("analysis", "ack_lost_segment"),
    "duplicate_acks": ("analysis", "duplicate_ack"),
    "zero_windows": ("analysis", "zero_window"),
    "window_updates": ("analysis", "window_update"),
    "keep_alives": ("analysis", "keep_alive"),
}


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(2, 0.01 * abs(b))


def _dig(d: dict, path: tuple[str, ...]) -> int:
    for p in path:
        d = d[p]
    return d  # type: ignore[return-value]


def check(path: Path, facts: dict) -> dict[str, bool]:
    """Agreement per kind of check for one capture."""
    r = analyze(path)
    dur = facts["file"]["duration_s"]
    return {
        "duration": dur is None or abs(r.capture.duration_s - dur) <= 1e-5,
        "tcp": all(_close(getattr(r.tcp, ours), _dig(facts["tcp"], p)) for ours, p in TCP.items()),
        "dns": _close(r.dns.queries, facts["dns"]["queries"])
        and _close(r.dns.responses, facts["dns"]["responses"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "public-corpus")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    oracle = json.loads((args.corpus / "oracle.json").read_text())["captures"]
    results = {}
    for name, facts in sorted(oracle.items()):
        try:
            results[name] = check(args.corpus / name, facts)
        except Exception as e:  # a crash is a disagreement on every kind
            print(f"{name}: {type(e).__name__}: {e}", file=sys.stderr)
            results[name] = {"duration": False, "tcp": False, "dns": False}
    n = len(results)
    for kind in ("duration", "tcp", "dns"):
        print(f"{kind:10s} {sum(r[kind] for r in results.values()):4d} of {n} files agree")
    print(f"{'all':10s} {sum(all(r.values()) for r in results.values()):4d} of {n} files agree")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
