"""Login throttling: free attempts, then delays that double, per key, forgotten on success."""

from __future__ import annotations

from app.api.ratelimit import FREE_FAILURES, MAX_DELAY_S, LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delays_start_after_free_failures_and_double() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    for _ in range(FREE_FAILURES - 1):
        limiter.failed("ip:1", "user:a")
        assert limiter.retry_after("ip:1", "user:a") == 0
    limiter.failed("ip:1", "user:a")
    assert limiter.retry_after("ip:1") == 1
    limiter.failed("ip:1", "user:a")
    assert limiter.retry_after("user:a") == 2
    clock.now += 2
    assert limiter.retry_after("user:a") == 0
    assert limiter.retry_after("ip:2", "user:b") == 0  # other keys are not affected


def test_delay_is_capped_and_success_resets() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    for _ in range(40):
        limiter.failed("user:a")
    assert limiter.retry_after("user:a") == MAX_DELAY_S
    limiter.succeeded("user:a")
    assert limiter.retry_after("user:a") == 0


def test_username_key_throttles_across_addresses() -> None:
    limiter = LoginLimiter(clock=Clock())
    for ip in range(FREE_FAILURES + 1):
        limiter.failed(f"ip:{ip}", "user:victim")
    assert limiter.retry_after("ip:99", "user:victim") > 0
