"""Throw randomly damaged captures at the engine and report every distinct failure.

Usage: python -W error::RuntimeWarning benchmarks/fuzz_engine.py [--seconds S] [--seed N] [--corpus DIR]

Each round takes the first 200 KB of a corpus capture, flips 1-30 random bytes, sometimes cuts the file, and
runs `analyze()` on it. A capture that is not a capture (CaptureFormatError) is fine; any other exception is
a bug and is printed once with its traceback and the round's seed (rounds are reproducible from the seed).
With `-W error::RuntimeWarning`, NumPy overflow warnings (a wrong number, silently) count as failures too.
The property tests in tests/engine/test_properties.py do the same on a small, fixed budget.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

from pcap_analyzer import analyze
from pcap_analyzer.errors import CaptureFormatError
from pcap_analyzer.report.base import to_json

ROOT = Path(__file__).resolve().parents[1]
PREFIX = 200_000
CONFIG = {"max_connections": 50, "detail_connections": 2}


def damage(data: bytes, rng: random.Random) -> bytes:
    """`data` with 1-30 bytes flipped and, one time in three, cut short."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 30)):
        out[rng.randrange(len(out))] ^= rng.randint(1, 255)
    if rng.random() < 0.3:
        out = out[: rng.randrange(len(out))]
    return bytes(out)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=1)
    default_corpus = os.environ.get("PCAP_CORPUS_DIR", str(ROOT / "tests" / "data"))
    parser.add_argument("--corpus", type=Path, default=Path(default_corpus))
    args = parser.parse_args()
    originals = {p.name: p.read_bytes()[:PREFIX] for p in sorted(args.corpus.glob("*.pcap*"))}
    if not originals:
        sys.exit(f"no captures in {args.corpus}")
    failures: dict[str, int] = {}
    rounds = 0
    deadline = time.monotonic() + args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.cap"
        while time.monotonic() < deadline:
            seed = args.seed * 1_000_000 + rounds
            rounds += 1
            rng = random.Random(seed)
            name = rng.choice(sorted(originals))
            path.write_bytes(damage(originals[name], rng))
            try:
                to_json(analyze(path, config=CONFIG))
            except CaptureFormatError:
                continue
            except Exception:
                trace = traceback.format_exc()
                key = trace.strip().splitlines()[-1][:200]
                if key not in failures:
                    failures[key] = seed
                    print(f"FAILURE on {name}, seed {seed}: {key}\n{trace[-2000:]}", flush=True)
    print(f"{rounds} damaged captures, {len(failures)} distinct failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
