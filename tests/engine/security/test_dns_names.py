"""The DNS tunnelling kernel's name features against values computed here from the names' text."""

from __future__ import annotations

import math
import struct
from collections import Counter

import numpy as np

from pcap_analyzer.security import dns_kernel as k


def _message(name: str) -> bytes:
    labels = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    return struct.pack("!6H", 1, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!2H", 16, 1)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def _features(names: list[str], min_len: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    buf = b""
    offsets = []
    for name in names:
        buf += bytes(42)
        offsets.append(len(buf) + 12)
        buf += _message(name)
    n = len(names)
    ints, hashes, entropy = (
        np.zeros((n, k.N_INTS), np.int64),
        np.zeros((n, k.N_HASHES), np.uint64),
        np.zeros(n),
    )
    k.query_features(
        np.frombuffer(buf, np.uint8),
        np.array(offsets, np.int64),
        min_len,
        np.zeros(k.MAX_LABELS, np.int64),
        np.zeros(k.MAX_LABELS, np.int64),
        np.zeros(256, np.int64),
        ints,
        hashes,
        entropy,
    )
    return ints, hashes, entropy


def test_lengths_entropy_and_registered_domain() -> None:
    names = [
        "aGVsbG8gd29ybGQ0123.xyz.tun.example.com",
        "www.bbc.co.uk",
        "example.com",
        "AGVSBG8GD29YBGQ0123.XYZ.TUN.EXAMPLE.COM",  # same name, other case
        "other.example.com",
    ]
    ints, hashes, entropy = _features(names)
    assert ints[:, k.F_NAME_LEN].tolist() == [len(n) for n in names]
    assert ints[:, k.F_DOM_LABELS].tolist() == [2, 3, 2, 2, 2]
    assert ints[:, k.F_SUB_LEN].tolist() == [len("aGVsbG8gd29ybGQ0123.xyz.tun"), 3, 0, 27, 5]
    sub = "aGVsbG8gd29ybGQ0123xyztun".lower()
    assert abs(entropy[0] - _entropy(sub)) < 1e-9 and abs(entropy[1] - _entropy("www")) < 1e-9
    assert entropy[2] == 0.0
    domain, name = hashes[:, k.H_DOMAIN], hashes[:, k.H_NAME]
    assert domain[0] == domain[2] == domain[3] == domain[4] != domain[1]
    assert name[0] == name[3] and len(set(name.tolist())) == 4
    # entropy only for parts of at least min_len characters
    _, _, long_only = _features(names, min_len=10)
    assert long_only[0] == entropy[0] and long_only[1:3].tolist() == [0.0, 0.0] and long_only[4] == 0.0


def test_no_name_gives_minus_one() -> None:
    ints, _, _ = _features([])
    assert ints.shape == (0, k.N_INTS)
    buf = np.zeros(64, np.uint8)
    buf.setflags(write=False)  # as a chunk's buffer (the signature compiled ahead of time)
    out = np.zeros((1, k.N_INTS), np.int64)
    k.query_features(
        buf,
        np.array([0], np.int64),
        0,
        np.zeros(k.MAX_LABELS, np.int64),
        np.zeros(k.MAX_LABELS, np.int64),
        np.zeros(256, np.int64),
        out,
        np.zeros((1, k.N_HASHES), np.uint64),
        np.zeros(1),
    )
    assert out[0, k.F_NAME_LEN] == -1
