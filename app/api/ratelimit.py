"""Sign-in throttling that slows attackers down without letting them lock anyone out.

Three counters, each with free failures and then a wait that doubles with each further failure:
- per (client address, username): the real brake on guessing one account's password from one place
  (5 free failures, then up to 300 s);
- per client address, whatever the username: password spraying (10x as many free failures);
- per username, from anywhere: a gentle slow-down against a distributed guesser (20 free failures, then
  at most 30 s), which never applies to an address that signed in successfully as that user, so the owner
  is never locked out by strangers' failures.

The client address is what uvicorn reports: the peer, or X-Forwarded-For from a trusted proxy
(FORWARDED_ALLOW_IPS). State is per web process (in memory); with several processes each counts its own.
Callers pass keys "ip:<address>" and "user:<name>".
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

FREE_FAILURES = 5  # per (address, username) before any wait (LOGIN_RATE_LIMIT_ATTEMPTS)
IP_FREE_FACTOR = 10
USER_FREE_FACTOR = 4
BASE_DELAY_S = 1.0
MAX_DELAY_S = 300.0
USER_MAX_DELAY_S = 30.0
FORGET_AFTER_S = 300.0  # a counter with no failure for this long starts afresh
TRUST_FOR_S = 30 * 24 * 3600.0  # an address that signed in as a user stays exempt from its slow-down
_MAX_ENTRIES = 100_000


@dataclass(slots=True)
class _Record:
    failures: int = 0
    last_failure: float = 0.0


@dataclass
class LoginLimiter:
    """Failure counters per (address, user), per address and per user; see the module docstring."""

    free_failures: int = FREE_FAILURES
    forget_after_s: float = FORGET_AFTER_S
    clock: object = time.monotonic
    _records: dict[str, _Record] = field(default_factory=dict)
    _trusted: dict[tuple[str, str], float] = field(default_factory=dict)

    def _now(self) -> float:
        return self.clock()  # type: ignore[operator,no-any-return]

    def _limits(self, key: str) -> tuple[int, float]:
        """(free failures, longest wait) of a counter."""
        if key.startswith("pair:"):
            return self.free_failures, MAX_DELAY_S
        if key.startswith("ip:"):
            return self.free_failures * IP_FREE_FACTOR, MAX_DELAY_S
        return self.free_failures * USER_FREE_FACTOR, USER_MAX_DELAY_S

    def _delay(self, key: str, failures: int) -> float:
        free, longest = self._limits(key)
        if failures < free:
            return 0.0
        return min(longest, BASE_DELAY_S * 2 ** (failures - free))

    @staticmethod
    def _counters(keys: tuple[str, ...]) -> tuple[list[str], str | None, str | None]:
        ip = next((k[3:] for k in keys if k.startswith("ip:")), None)
        user = next((k[5:] for k in keys if k.startswith("user:")), None)
        counters = list(keys)
        if ip is not None and user is not None:
            counters.append(f"pair:{ip}\n{user}")
        return counters, ip, user

    def _is_trusted(self, ip: str | None, user: str | None, now: float) -> bool:
        if ip is None or user is None:
            return False
        since = self._trusted.get((ip, user))
        return since is not None and now - since < TRUST_FOR_S

    def retry_after(self, *keys: str) -> int:
        """Seconds to wait before another attempt with these keys is allowed (0 = allowed now)."""
        now = self._now()
        counters, ip, user = self._counters(keys)
        trusted = self._is_trusted(ip, user, now)
        wait = 0.0
        for key in counters:
            if trusted and key.startswith("user:"):
                continue
            rec = self._records.get(key)
            if rec is None:
                continue
            delay = self._delay(key, rec.failures)
            if now - rec.last_failure > max(self.forget_after_s, delay):
                del self._records[key]
                continue
            wait = max(wait, rec.last_failure + delay - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        """Count a failed sign-in against every counter of these keys."""
        now = self._now()
        for key in self._counters(keys)[0]:
            rec = self._records.setdefault(key, _Record())
            rec.failures += 1
            rec.last_failure = now
        if len(self._records) > _MAX_ENTRIES:  # bound memory under a spray of usernames or addresses
            cutoff = now - max(self.forget_after_s, MAX_DELAY_S)
            for key in [k for k, r in self._records.items() if r.last_failure < cutoff]:
                del self._records[key]

    def succeeded(self, *keys: str) -> None:
        """A correct password: clear the (address, user) counter and trust the address for that user.

        The per-user and per-address counters stay: an owner's success must not wipe an attacker's record.
        Given a single key (no pair), that counter is cleared.
        """
        now = self._now()
        counters, ip, user = self._counters(keys)
        if ip is None or user is None:
            for key in counters:
                self._records.pop(key, None)
            return
        self._records.pop(f"pair:{ip}\n{user}", None)
        self._trusted[(ip, user)] = now
        if len(self._trusted) > _MAX_ENTRIES:
            for pair in [p for p, t in self._trusted.items() if now - t > TRUST_FOR_S]:
                del self._trusted[pair]
