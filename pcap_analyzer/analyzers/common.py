"""Helpers shared by the analyzers: address text, bounded samples, stats and time bins."""

from __future__ import annotations

import functools
import ipaddress

import numpy as np
import numpy.typing as npt

from pcap_analyzer.decode.packets import L3
from pcap_analyzer.report.model import Stats

NS = 1_000_000_000
_V4_MAPPED = 0x0000_FFFF_0000_0000
NON_IP = "non-ip"


def format_addr(hi: int, lo: int) -> str:
    """Text of a PacketTable address (two uint64 halves, IPv4 stored IPv4-mapped)."""
    return _format_addr(int(hi), int(lo))


@functools.lru_cache(maxsize=4096)
def _format_addr(hi: int, lo: int) -> str:
    if hi == 0 and (lo >> 32) == 0xFFFF:
        return str(ipaddress.IPv4Address(lo & 0xFFFF_FFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


def ip_mask(l3: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Packets that carry an IPv4 or IPv6 header (so ip.src / ipv6.src exist)."""
    mask: npt.NDArray[np.bool_] = (l3 == L3.IPV4) | (l3 == L3.IPV6)
    return mask


def percentile_stats(values: npt.NDArray[np.float64], scale: float = 1.0) -> Stats:
    """count/min/median/p95/max/mean of `values` times `scale` (NumPy linear interpolation)."""
    if values.size == 0:
        return Stats()
    v = values * scale
    return Stats(
        count=int(v.size),
        min=float(v.min()),
        median=float(np.percentile(v, 50)),
        p95=float(np.percentile(v, 95)),
        max=float(v.max()),
        mean=float(v.mean()),
    )


class Sampler:
    """Keeps every value up to `cap`, then every 2nd, 4th ... (stride doubling): bounded, evenly spread.

    count/min/max stay exact; percentiles are exact while `count <= cap`. With `per_unit`, `add` takes
    integers counted in 1/per_unit of the value's unit (e.g. ns for ms values: 1_000_000) and keeps
    their sum exact, so the mean does not depend on how the values were split into calls.
    """

    def __init__(self, cap: int = 1_000_000, per_unit: int = 0) -> None:
        self.cap = cap
        self.per_unit = per_unit
        self._buf = np.empty(min(cap, 64), np.float64)
        self._n = 0  # kept samples
        self._stride = 1
        self._seen = 0  # values offered
        self.count = 0
        self.total: float = 0  # an exact int with per_unit
        self.min = np.inf
        self.max = -np.inf

    def add(self, values: npt.ArrayLike) -> None:
        """Offer values (any order); keeps those whose running index is a multiple of the stride."""
        if self.per_unit:
            units = np.asarray(values, np.int64).ravel()
            self.total += int(units.sum())
            v = units / self.per_unit
        else:
            v = np.asarray(values, np.float64).ravel()
            self.total += float(v.sum())
        if v.size == 0:
            return
        self.count += int(v.size)
        self.min = min(self.min, float(v.min()))
        self.max = max(self.max, float(v.max()))
        idx = np.arange(self._seen, self._seen + v.size)
        self._seen += int(v.size)
        mask = idx % self._stride == 0
        while self._n + int(mask.sum()) > self.cap:
            # kept samples are the multiples of the stride from index 0: every other one stays
            half = (self._n + 1) // 2
            self._buf[:half] = self._buf[: self._n : 2]
            self._n = half
            self._stride *= 2
            mask = idx % self._stride == 0
        kept = v[mask]
        need = self._n + kept.size
        if need > self._buf.size:
            grown = np.empty(min(self.cap, max(need, 2 * self._buf.size)), np.float64)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n : need] = kept
        self._n = need

    @property
    def exact(self) -> bool:
        return self._stride == 1

    def values(self) -> npt.NDArray[np.float64]:
        """The kept samples, in the order offered."""
        return self._buf[: self._n].copy()

    def stats(self, scale: float = 1.0) -> Stats:
        """Stats of everything offered; median/p95 from the kept samples."""
        if self.count == 0:
            return Stats()
        s = percentile_stats(self.values(), scale)
        return Stats(
            count=self.count,
            min=self.min * scale,
            median=s.median,
            p95=s.p95,
            max=self.max * scale,
            mean=self.total / (self.count * (self.per_unit or 1)) * scale,
        )


def grow(arr: np.ndarray, size: int, fill: int | float = 0) -> np.ndarray:
    """`arr` extended (by doubling) so index `size - 1` exists; new entries set to `fill`."""
    if size <= arr.shape[0]:
        return arr
    new_len = max(size, 2 * arr.shape[0], 16)
    out = np.full((new_len,) + arr.shape[1:], fill, dtype=arr.dtype)
    out[: arr.shape[0]] = arr
    return out


def grow_in_place(arr: np.ndarray, size: int, fill: int | float = 0) -> np.ndarray:
    """`arr` extended by 25 % (at least to `size` rows), resized in place; new rows set to `fill`.

    Large blocks are reallocated by remapping pages, so the old and new copies never coexist and
    the spare capacity stays under 25 %. Callers must not keep views of `arr` across the call;
    an array that does not own its data is copied instead.
    """
    old = arr.shape[0]
    if size <= old:
        return arr
    new_len = max(size, old + old // 4, 16)
    if arr.flags.owndata and arr.flags.c_contiguous:
        arr.resize((new_len,) + arr.shape[1:], refcheck=False)
    else:
        arr = np.concatenate([arr, np.zeros((new_len - old,) + arr.shape[1:], arr.dtype)])
    if fill != 0:
        arr[old:] = fill
    return arr


class TimeBins:
    """Per-bucket sums of several series from a fixed origin; the bucket width doubles (pairs merge)
    whenever the series would pass `max_bins`, so memory stays bounded for any capture length."""

    def __init__(self, n_series: int, width_ns: int = NS, max_bins: int = 2000) -> None:
        self.width_ns = width_ns
        self.max_bins = max_bins
        self.origin: int | None = None
        self.sums = np.zeros((n_series, 64), np.int64)
        self.n_bins = 0

    def index(self, ts_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Bucket of each timestamp (merging buckets first if needed); ts before the origin go to bucket 0.

        Use the result with `accumulate` before the next call (a later call may merge buckets).
        """
        if self.origin is None:
            self.origin = int(ts_ns[0])
        rel = np.maximum(ts_ns - self.origin, 0)
        top_rel = int(rel.max())
        while top_rel // self.width_ns + 1 > self.max_bins:
            self._merge_pairs()
        top = top_rel // self.width_ns + 1
        if top > self.sums.shape[1]:
            new = np.zeros((self.sums.shape[0], max(top, 2 * self.sums.shape[1])), np.int64)
            new[:, : self.sums.shape[1]] = self.sums
            self.sums = new
        self.n_bins = max(self.n_bins, top)
        return rel // self.width_ns

    def accumulate(self, series: int, b: npt.NDArray[np.int64], weights: npt.ArrayLike | None = None) -> None:
        """Add 1 (or `weights`) per packet to series `series` at buckets `b` (from `index`)."""
        if b.size:
            c = np.bincount(b, weights=weights)
            self.sums[series, : c.size] += c.astype(np.int64)

    def add(self, ts_ns: npt.NDArray[np.int64], weights: npt.NDArray[np.int64]) -> None:
        """Add `weights[s, i]` of packet i (time ts_ns[i]) to series s."""
        if ts_ns.size == 0:
            return
        b = self.index(ts_ns)
        for s in range(self.sums.shape[0]):
            self.accumulate(s, b, weights[s])

    def _merge_pairs(self) -> None:
        n = (self.n_bins + 1) // 2
        m = self.sums[:, : 2 * n].copy()
        if m.shape[1] < 2 * n:
            m = np.pad(m, ((0, 0), (0, 2 * n - m.shape[1])))
        self.sums[:] = 0
        self.sums[:, :n] = m[:, 0::2] + m[:, 1::2]
        self.n_bins = n
        self.width_ns *= 2

    def series(self, s: int) -> list[int]:
        """Series `s` as a list, one value per bucket."""
        return self.sums[s, : self.n_bins].tolist()  # type: ignore[no-any-return]
