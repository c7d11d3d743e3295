"""Throttling of password-reset requests and two-factor codes: the sign-in limiter with longer waits.

After `free_failures` attempts the wait starts at 30 s and doubles up to 15 minutes, so that 10^6 TOTP
codes or a flood of reset mails are out of reach, while the owner can retry soon after a typo or two.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.api.ratelimit import LoginLimiter

BASE_DELAY_S = 30.0
MAX_DELAY_S = 900.0


@dataclass
class AccountLimiter(LoginLimiter):
    """Keys: "reset-ip:<ip>", "reset-mail:<address>", "mfa:<user id>"."""

    forget_after_s: float = MAX_DELAY_S

    def _delay(self, key: str, failures: int) -> float:  # every key: the same free attempts and waits
        if failures < self.free_failures:
            return 0.0
        return min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (failures - self.free_failures))
