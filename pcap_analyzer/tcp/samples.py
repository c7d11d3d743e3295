"""SampleBuffer: bounded (stream, t, value) samples in int32/float32 arrays, thinned by stride doubling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class Samples:
    """Frozen samples: `stride` > 1 means only every stride-th sample (in capture order) was kept."""

    stream: npt.NDArray[np.int32]
    t: npt.NDArray[np.float32]  # seconds since the first packet of the capture
    value: npt.NDArray[np.float32]  # seconds
    seen: int  # samples offered, before thinning
    stride: int

    def __len__(self) -> int:
        return int(self.stream.shape[0])


class SampleBuffer:
    """Append-only sample store of at most `cap` entries (about 12 bytes each).

    When full, every second kept sample is dropped and the stride doubles, so the kept set is
    always "every stride-th sample seen": an unbiased subsample for medians and percentiles.
    """

    def __init__(self, cap: int) -> None:
        self.cap = max(2, cap)
        self.stream = np.zeros(1024, np.int32)
        self.t = np.zeros(1024, np.float32)
        self.value = np.zeros(1024, np.float32)
        self.n = 0
        self.seen = 0
        self.stride = 1

    def add(self, stream: npt.ArrayLike, t: npt.ArrayLike, value: npt.ArrayLike) -> None:
        """Offer samples in capture order."""
        s = np.asarray(stream)
        start = (-self.seen) % self.stride  # keep global positions that are multiples of stride
        self.seen += s.shape[0]
        pick = slice(start, None, self.stride)
        s, tt, v = s[pick], np.asarray(t)[pick], np.asarray(value)[pick]
        need = self.n + s.shape[0]
        if need > self.stream.shape[0]:
            size = min(max(need, 2 * self.stream.shape[0]), max(need, self.cap))
            for name in ("stream", "t", "value"):
                old = getattr(self, name)
                new = np.zeros(size, old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, name, new)
        self.stream[self.n:need] = s
        self.t[self.n:need] = tt
        self.value[self.n:need] = v
        self.n = need
        while self.n > self.cap:
            keep = self.n // 2 + self.n % 2
            for name in ("stream", "t", "value"):
                arr = getattr(self, name)
                arr[:keep] = arr[: self.n : 2]
            self.n = keep
            self.stride *= 2

    def freeze(self) -> Samples:
        """The kept samples as compact arrays."""
        return Samples(self.stream[: self.n].copy(), self.t[: self.n].copy(), self.value[: self.n].copy(),
                       self.seen, self.stride)
