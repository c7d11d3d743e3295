"""Login throttling per client IP and per username, with delays that grow with each failure.

State is per process (kept in memory): run one web process per host, or put the limit in the proxy too.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

FREE_FAILURES = 5  # failures allowed before any delay (LOGIN_RATE_LIMIT_ATTEMPTS)
BASE_DELAY_S = 1.0
MAX_DELAY_S = 300.0
FORGET_AFTER_S = 300.0  # a key with no failure for this long starts afresh (LOGIN_RATE_LIMIT_WINDOW_SECONDS)


@dataclass(slots=True)
class _Record:
    failures: int = 0
    last_failure: float = 0.0


@dataclass
class LoginLimiter:
    """Failures by key ("ip:1.2.3.4", "user:alice"); after `free_failures` the wait doubles each time."""

    free_failures: int = FREE_FAILURES
    forget_after_s: float = FORGET_AFTER_S
    clock: object = time.monotonic
    _records: dict[str, _Record] = field(default_factory=dict)

    def _now(self) -> float:
        return self.clock()  # type: ignore[operator,no-any-return]

    def _delay(self, failures: int) -> float:
        if failures < self.free_failures:
            return 0.0
        return min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (failures - self.free_failures))

    def retry_after(self, *keys: str) -> int:
        """Seconds to wait before another attempt is allowed for these keys (0 = allowed now)."""
        now = self._now()
        wait = 0.0
        for key in keys:
            rec = self._records.get(key)
            if rec is None:
                continue
            if now - rec.last_failure > max(self.forget_after_s, self._delay(rec.failures)):
                del self._records[key]
                continue
            wait = max(wait, rec.last_failure + self._delay(rec.failures) - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        now = self._now()
        for key in keys:
            rec = self._records.setdefault(key, _Record())
            rec.failures += 1
            rec.last_failure = now
        if len(self._records) > 100_000:  # bound memory under a spray of usernames
            cutoff = now - max(self.forget_after_s, MAX_DELAY_S)
            for key in [k for k, r in self._records.items() if r.last_failure < cutoff]:
                del self._records[key]

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._records.pop(key, None)
