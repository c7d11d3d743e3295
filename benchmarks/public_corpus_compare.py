"""Compare the engine with tshark's oracle on ../shared/public-corpus, per kind of check.

Usage: python benchmarks/public_corpus_compare.py [--corpus DIR] [--json OUT]

A file agrees on a kind when every count of that kind is within max(2, 1 %) of tshark's (durations within
1e-5 s). Kinds: duration (capture.duration_s), tcp (streams, SYN, SYN/ACK, RST and the tcp.analysis flags),
dns (queries, responses, and tshark's unanswered figure: query frames without dns.response_in). Prints, per
kind, how many files agree, the whole-file agreement, and per figure how many checks (where either side is
non-zero) disagree; the agreement over all checks also for the counts alone (issue 16's measure: every count
within max(2, 1 %)) and for the durations alone.
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


def checks(path: Path, facts: dict) -> dict[str, tuple[float, float]]:
    """Every compared figure of one capture: name -> (ours, tshark's)."""
    r = analyze(path)
    out: dict[str, tuple[float, float]] = {}
    dur = facts["file"]["duration_s"]
    if dur is not None:
        out["duration"] = (r.capture.duration_s, dur)
    for ours, p in TCP.items():
        out[f"tcp.{ours}"] = (getattr(r.tcp, ours), _dig(facts["tcp"], p))
    out["dns.queries"] = (r.dns.queries, facts["dns"]["queries"])
    out["dns.responses"] = (r.dns.responses, facts["dns"]["responses"])
    out["dns.unanswered_query_frames"] = (r.dns.unanswered_query_frames, facts["dns"]["unanswered_queries"])
    return out


def agrees(name: str, ours: float, theirs: float) -> bool:
    if name == "duration":
        return abs(ours - theirs) <= 1e-5
    return _close(ours, theirs)


def kinds(figures: dict[str, tuple[float, float]]) -> dict[str, bool]:
    """Agreement per kind of check (duration, tcp, dns) for one capture."""
    out = {"duration": True, "tcp": True, "dns": True}
    for name, (ours, theirs) in figures.items():
        out[name.split(".")[0]] &= agrees(name, ours, theirs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "public-corpus")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    oracle = json.loads((args.corpus / "oracle.json").read_text())["captures"]
    figures: dict[str, dict[str, tuple[float, float]]] = {}
    results = {}
    for name, facts in sorted(oracle.items()):
        try:
            figures[name] = checks(args.corpus / name, facts)
            results[name] = kinds(figures[name])
        except Exception as e:  # a crash is a disagreement on every kind
            print(f"{name}: {type(e).__name__}: {e}", file=sys.stderr)
            results[name] = {"duration": False, "tcp": False, "dns": False}
    n = len(results)
    for kind in ("duration", "tcp", "dns"):
        print(f"{kind:10s} {sum(r[kind] for r in results.values()):4d} of {n} files agree")
    print(f"{'all':10s} {sum(all(r.values()) for r in results.values()):4d} of {n} files agree")
    # Per figure: checks where either side is non-zero, and how many of them agree.
    total = agreeing = 0
    per_field: dict[str, list[int]] = {}
    for figs in figures.values():
        for field, (ours, theirs) in figs.items():
            if not ours and not theirs:
                continue
            ok = agrees(field, ours, theirs)
            counts = per_field.setdefault(field, [0, 0])
            counts[0] += 1
            counts[1] += ok
            total += 1
            agreeing += ok
    share = 100 * agreeing / max(total, 1)
    print(f"checks where either side is non-zero: {agreeing} of {total} agree ({share:.2f} %)")
    seen = sum(v[0] for f, v in per_field.items() if f != "duration")
    ok = sum(v[1] for f, v in per_field.items() if f != "duration")
    dur_seen, dur_ok = per_field.get("duration", [0, 0])
    print(f"  of them counts (within max(2, 1 %)): {ok} of {seen} agree ({100 * ok / max(seen, 1):.2f} %); "
          f"durations (within 10 us): {dur_ok} of {dur_seen}")
    for field, (seen, ok) in sorted(per_field.items(), key=lambda kv: kv[1][1] - kv[1][0]):
        if seen != ok:
            print(f"  {field:28s} {seen - ok:4d} of {seen:4d} disagree")
    if args.json:
        args.json.write_text(json.dumps({"files": results, "figures": figures}, indent=1))


if __name__ == "__main__":
    main()
