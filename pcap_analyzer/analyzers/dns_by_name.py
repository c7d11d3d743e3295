"""DNS figures per query name, then per registered domain: counted per unique name, grouped at the end.

The DNS analyzer hands over name hashes (the kernel's `A_NAME`) of queries, answers and unanswered
transactions; each is counted on the row of its name, found by a binary search in the sorted known hashes
(Python runs only for names never seen before). Names are mapped to registered domains once each, in
`domains()`.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from pcap_analyzer.analyzers.dns_domains import registered_domains
from pcap_analyzer.analyzers.dns_names import RCODES
from pcap_analyzer.report.model_exports import DnsDomain

QUERIES, ANSWERED, SLOW, UNANSWERED, PENDING, RCODE0 = range(6)
_COLS = RCODE0 + 16
_OTHER = "(other names)"  # past max_names distinct names, later ones share this row


class NameCounts:
    """Counters per distinct query name (at most `max_names` rows, plus one shared overflow row)."""

    def __init__(self, max_names: int = 100_000) -> None:
        self.max_names = max_names
        self._row: dict[int, int] = {}
        self._hashes = np.zeros(0, np.uint64)  # known hashes, sorted, and their rows
        self._rows_of = np.zeros(0, np.int64)
        self._text: list[str] = [_OTHER]  # row 0: overflow
        self._counts = np.zeros((1024, _COLS), np.int64)
        self._max_ms = np.full(1024, -np.inf)

    def register(self, hashes: npt.NDArray[np.uint64], names: dict[int, str]) -> None:
        """Give a row to every name hash not seen before (`names` maps hash -> decoded name)."""
        uniq = np.unique(hashes)
        new = uniq[self._lookup(uniq) < 0]
        if new.size == 0 or len(self._text) > self.max_names:
            return
        for h in new.tolist():
            if len(self._text) > self.max_names:
                break
            self._row[h] = len(self._text)
            self._text.append(names.get(h, ""))
        keys = np.fromiter(self._row.keys(), np.uint64, len(self._row))
        order = np.argsort(keys)
        self._hashes = keys[order]
        self._rows_of = np.fromiter(self._row.values(), np.int64, len(self._row))[order]
        if len(self._text) > self._counts.shape[0]:
            n = 2 * len(self._text)
            self._counts = np.concatenate(
                [self._counts, np.zeros((n - self._counts.shape[0], _COLS), np.int64)]
            )
            self._max_ms = np.concatenate([self._max_ms, np.full(n - self._max_ms.shape[0], -np.inf)])

    def _lookup(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """Row of each hash, -1 when unknown."""
        known = self._hashes
        if known.size == 0:
            return np.full(hashes.size, -1, np.int64)
        at = np.minimum(np.searchsorted(known, hashes), known.size - 1)
        return np.where(known[at] == hashes, self._rows_of[at], -1)

    def _rows(self, hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        return np.maximum(self._lookup(hashes), 0)  # unknown (past max_names): the overflow row

    def _count(
        self, rows: npt.NDArray[np.int64], weights: npt.NDArray[np.int64] | None = None
    ) -> npt.NDArray[np.int64]:
        n = self._counts.shape[0]
        return np.bincount(rows, weights=weights, minlength=n).astype(np.int64)

    def add(self, col: int, hashes: npt.NDArray[np.uint64]) -> None:
        """Count one event of kind `col` (QUERIES, UNANSWERED, PENDING) per hash."""
        if hashes.size:
            self._counts[:, col] += self._count(self._rows(hashes))

    def add_answers(
        self,
        hashes: npt.NDArray[np.uint64],
        rcode: npt.NDArray[np.int64],
        ms: npt.NDArray[np.float64],
        slow_ms: float,
    ) -> None:
        """Count answered transactions: rcode, slow answers, slowest answer per name."""
        if not hashes.size:
            return
        rows = self._rows(hashes)
        c = self._counts
        c[:, ANSWERED] += self._count(rows)
        c[:, SLOW] += self._count(rows, (ms > slow_ms).astype(np.int64))
        failed = np.flatnonzero(rcode != 0)  # NOERROR is not counted per rcode: answered - failures
        if failed.size:
            np.add.at(c, (rows[failed], RCODE0 + (rcode[failed] & 0xF)), 1)
        np.maximum.at(self._max_ms, rows, ms)

    def domains(self, top_n: int) -> list[DnsDomain]:
        """Figures per registered domain, most queries first (ties: name), at most `top_n`."""
        n = len(self._text)
        used = np.flatnonzero(self._counts[:n].any(axis=1))
        if used.size == 0 or top_n <= 0:
            return []
        rows = used.tolist()
        found = iter(registered_domains(self._text[i] for i in rows if i != 0))
        labels = [_OTHER if i == 0 else next(found) for i in rows]
        uniq, inv = np.unique(np.array(labels, dtype=object), return_inverse=True)
        inv = inv.ravel()
        sums = np.zeros((uniq.size, _COLS), np.int64)
        np.add.at(sums, inv, self._counts[used])
        worst = np.full(uniq.size, -np.inf)
        np.maximum.at(worst, inv, self._max_ms[used])
        names = np.bincount(inv, minlength=uniq.size)
        order = sorted(range(uniq.size), key=lambda i: (-sums[i, QUERIES], str(uniq[i])))[:top_n]
        out = []
        for i in order:
            s = sums[i]
            failures = {RCODES.get(r, f"RCODE{r}"): int(s[RCODE0 + r]) for r in range(1, 16) if s[RCODE0 + r]}
            domain = str(uniq[i])
            out.append(
                DnsDomain(
                    domain=domain,
                    queries=int(s[QUERIES]),
                    names=int(names[i]),
                    answered=int(s[ANSWERED]),
                    failures=failures,
                    slow_answers=int(s[SLOW]),
                    unanswered=int(s[UNANSWERED]),
                    pending_at_end=int(s[PENDING]),
                    max_response_ms=float(worst[i]) if np.isfinite(worst[i]) else None,
                    filter=domain_filter(domain),
                )
            )
        return out


def domain_filter(domain: str) -> str:
    """Wireshark display filter of the queries and responses for names under `domain`."""
    if domain in (_OTHER, "."):
        return "dns"
    # a regular expression in a display-filter string: dots escaped for the regex, backslashes for the string
    pattern = re.escape(domain).replace("\\", "\\\\").replace('"', '\\"')
    return f'dns.qry.name matches "(^|\\\\.){pattern}$"'
