"""Numba kernel of the DNS tunnelling detector: length, entropy and registered-domain hash of query names.

One pass over the chunk's query packets; each name is walked as `analyzers.dns_names.qname_at` walks it
(compression pointers followed, bounded), lower-cased (resolvers randomise the case, RFC 0x20 draft).
"""

from __future__ import annotations

import numpy as np

from pcap_analyzer.hashing import mix64
from pcap_analyzer.jit import kernel

_HEADER = 12
_WINDOW = 2048
_MAX_JUMPS = 64
_MAX_NAME = 255
MAX_LABELS = 128
_FNV = np.uint64(0x100000001B3)
_FNV_START = np.uint64(0xCBF29CE484222325)

# `ints` columns (int64)
F_NAME_LEN, F_SUB_LEN, F_LABELS, F_DOM_LABELS = range(4)
N_INTS = 4
# `hashes` columns (uint64)
H_DOMAIN, H_NAME = range(2)
N_HASHES = 2


@kernel
def _lower(b: np.uint8) -> np.uint64:
    v = np.uint64(b)
    if 65 <= b <= 90:
        v += np.uint64(32)
    return v


@kernel
def query_features(buf, qoff, min_len, starts, lens, hist, ints, hashes, entropy):  # noqa: ANN001, ANN201
    """For each query i (first QNAME at buf[qoff[i]]): name length (-1 when there is no name), length and
    Shannon entropy (bits per character) of the part left of the registered domain, label counts, and
    hashes of the registered domain and of the whole name. The entropy is computed only for parts of at
    least `min_len` characters (0 otherwise: shorter names are never suspicious). `starts`, `lens`
    (MAX_LABELS) and `hist` (256, zero, left zero) are scratch arrays.

    The registered domain is the last two labels, or three when the top-level label has two characters
    and the one before it at most three (co.uk, com.au): a heuristic, no public-suffix list.
    """
    for i in range(qoff.shape[0]):
        ints[i, F_NAME_LEN] = -1
        ints[i, F_SUB_LEN] = 0
        ints[i, F_LABELS] = 0
        ints[i, F_DOM_LABELS] = 0
        hashes[i, H_DOMAIN] = 0
        hashes[i, H_NAME] = 0
        entropy[i] = 0.0
        q = np.int64(qoff[i])
        if q < _HEADER:
            continue
        lo = q - _HEADER
        size = min(lo + _WINDOW, buf.shape[0]) - lo
        pos, jumps, length, n_labels = _HEADER, 0, 0, 0
        while 0 <= pos < size and n_labels < MAX_LABELS:
            n = np.int64(buf[lo + pos])
            if n == 0:
                break
            if n & 0xC0 == 0xC0:
                if pos + 1 >= size or jumps >= _MAX_JUMPS:
                    break
                pos = ((n & 0x3F) << 8) | np.int64(buf[lo + pos + 1])
                jumps += 1
                continue
            if n & 0xC0:
                break
            length += 1 + n
            if length > _MAX_NAME:
                break
            end = min(pos + 1 + n, size)
            starts[n_labels] = lo + pos + 1
            lens[n_labels] = end - pos - 1
            n_labels += 1
            pos += 1 + n
        if n_labels == 0:
            continue
        dom = min(2, n_labels)
        if n_labels >= 3 and lens[n_labels - 1] == 2 and lens[n_labels - 2] <= 3:
            dom = 3
        name_len = n_labels - 1
        h_name = _FNV_START
        h_dom = _FNV_START
        for k in range(n_labels):
            name_len += lens[k]
            h_name = mix64(h_name, np.uint64(lens[k]) | np.uint64(0x100))
            in_dom = k >= n_labels - dom
            if in_dom:
                h_dom = mix64(h_dom, np.uint64(lens[k]) | np.uint64(0x100))
            for j in range(starts[k], starts[k] + lens[k]):
                c = _lower(buf[j])
                h_name = (h_name ^ c) * _FNV
                if in_dom:
                    h_dom = (h_dom ^ c) * _FNV
        sub_chars = 0
        for k in range(n_labels - dom):
            sub_chars += lens[k]
        sub_len = sub_chars + max(n_labels - dom - 1, 0)
        h = 0.0
        if sub_chars > 0 and sub_len >= min_len:
            for k in range(n_labels - dom):
                for j in range(starts[k], starts[k] + lens[k]):
                    hist[_lower(buf[j])] += 1
            for k in range(n_labels - dom):  # each distinct character once, then its count reset
                for j in range(starts[k], starts[k] + lens[k]):
                    c = _lower(buf[j])
                    if hist[c] > 0:
                        p = hist[c] / sub_chars
                        h -= p * np.log2(p)
                        hist[c] = 0
        ints[i, F_NAME_LEN] = name_len
        ints[i, F_SUB_LEN] = sub_len
        ints[i, F_LABELS] = n_labels
        ints[i, F_DOM_LABELS] = dom
        hashes[i, H_DOMAIN] = mix64(h_dom, np.uint64(dom))
        hashes[i, H_NAME] = mix64(h_name, np.uint64(n_labels))
        entropy[i] = h
