"""Bounded per-packet stores of the TCP stage: ACK RTT / RTO samples (thinned by stride doubling) and the
flagged packets kept for the report."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_GROWTH = 1.25


@dataclass(slots=True)
class Samples:
    """Frozen samples: `stride` > 1 means only every stride-th sample (in capture order) was kept."""

    stream: npt.NDArray[np.int32]
    value: npt.NDArray[np.float32]  # seconds
    seen: int  # samples offered, before thinning
    stride: int

    def __len__(self) -> int:
        return int(self.stream.shape[0])


class SampleBuffer:
    """Append-only sample store of at most `cap` entries (8 bytes each).

    When full, every second kept sample is dropped and the stride doubles, so the kept set is
    always "every stride-th sample seen": an unbiased subsample for medians and percentiles.
    The arrays grow in place by 25 % (never two copies at once) up to `cap`.
    """

    def __init__(self, cap: int) -> None:
        self.cap = max(2, cap)
        self.stream = np.zeros(1024, np.int32)
        self.value = np.zeros(1024, np.float32)
        self.n = 0
        self.seen = 0
        self.stride = 1
        self._frozen = False

    def _reserve(self, need: int) -> None:
        size = self.stream.shape[0]
        if need <= size:
            return
        size = min(max(need, int(_GROWTH * size)), max(need, self.cap))
        self.stream.resize(size, refcheck=False)
        self.value.resize(size, refcheck=False)

    def add(self, stream: npt.ArrayLike, value: npt.ArrayLike) -> None:
        """Offer samples in capture order."""
        if self._frozen:  # views handed out by `freeze` must not change
            self.stream, self.value, self._frozen = self.stream.copy(), self.value.copy(), False
        s = np.asarray(stream)
        start = (-self.seen) % self.stride  # keep global positions that are multiples of stride
        self.seen += s.shape[0]
        pick = slice(start, None, self.stride)
        s, v = s[pick], np.asarray(value)[pick]
        need = self.n + s.shape[0]
        self._reserve(need)
        self.stream[self.n:need] = s
        self.value[self.n:need] = v
        self.n = need
        while self.n > self.cap:
            keep = self.n // 2 + self.n % 2
            for arr in (self.stream, self.value):
                arr[:keep] = arr[: self.n : 2]
            self.n = keep
            self.stride *= 2

    def freeze(self) -> Samples:
        """The kept samples (views, not copies: a later `add` copies the arrays first)."""
        self._frozen = True
        return Samples(self.stream[: self.n], self.value[: self.n], self.seen, self.stride)


class FlaggedBuffer:
    """The first `cap` flagged packets: (stream, frame, ts_ns, direction, analysis bits) columns.

    The columns grow in place (one block each for the whole capture, 25 bytes per packet), rather than
    one small array per chunk, which would stay scattered through the heap for the whole run.
    """

    DTYPES = (np.int32, np.int64, np.int64, np.uint8, np.uint32)

    def __init__(self, cap: int) -> None:
        self.cap = max(0, cap)
        self.cols = [np.zeros(min(self.cap, 1024), dt) for dt in self.DTYPES]
        self.n = 0

    @property
    def room(self) -> int:
        """Packets that can still be kept."""
        return self.cap - self.n

    def add(self, *cols: npt.NDArray[np.integer]) -> None:
        """Keep the first `room` rows of `cols` (one array per column, in DTYPES order)."""
        k = min(int(cols[0].shape[0]), self.room)
        if k <= 0:
            return
        need = self.n + k
        size = self.cols[0].shape[0]
        if need > size:
            size = min(self.cap, max(need, int(_GROWTH * size)))
            for c in self.cols:
                c.resize(size, refcheck=False)
        for c, v in zip(self.cols, cols, strict=True):
            c[self.n : need] = v[:k]
        self.n = need

    def freeze(self) -> tuple[npt.NDArray[np.integer], ...]:
        """The kept columns (views: call once no packet is added any more)."""
        return tuple(c[: self.n] for c in self.cols)
