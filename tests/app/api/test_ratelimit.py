"""Sign-in throttling: per (address, user) brake, per-address spray brake, per-user slow-down that never
locks out an address the owner signed in from."""

from __future__ import annotations

from app.api.ratelimit import (
    FREE_FAILURES,
    IP_FREE_FACTOR,
    MAX_DELAY_S,
    USER_FREE_FACTOR,
    USER_MAX_DELAY_S,
    LoginLimiter,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pair_delays_start_after_free_failures_and_double() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    for _ in range(FREE_FAILURES - 1):
        limiter.failed("ip:1", "user:a")
        assert limiter.retry_after("ip:1", "user:a") == 0
    limiter.failed("ip:1", "user:a")
    assert limiter.retry_after("ip:1", "user:a") == 1
    limiter.failed("ip:1", "user:a")
    assert limiter.retry_after("ip:1", "user:a") == 2
    assert limiter.retry_after("ip:2", "user:a") == 0  # the owner elsewhere is not affected
    assert limiter.retry_after("ip:1", "user:b") == 0  # nor another account from the same address
    clock.now += 2
    assert limiter.retry_after("ip:1", "user:a") == 0


def test_pair_delay_is_capped_and_success_resets_it() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock=clock)
    for _ in range(40):
        limiter.failed("ip:1", "user:a")
    assert limiter.retry_after("ip:1", "user:a") == MAX_DELAY_S
    limiter.succeeded("ip:1", "user:a")
    assert limiter.retry_after("ip:1", "user:a") == 0


def test_one_address_spraying_many_usernames_is_braked() -> None:
    limiter = LoginLimiter(clock=Clock())
    for n in range(FREE_FAILURES * IP_FREE_FACTOR):
        limiter.failed("ip:6.6.6.6", f"user:u{n}")
    assert limiter.retry_after("ip:6.6.6.6", "user:fresh") > 0
    assert limiter.retry_after("ip:1.2.3.4", "user:fresh") == 0


def test_distributed_guessing_slows_a_username_but_never_locks_out_its_owner() -> None:
    limiter = LoginLimiter(clock=Clock())
    limiter.succeeded("ip:10.0.0.1", "user:victim")  # the owner signed in from here before
    for n in range(FREE_FAILURES * USER_FREE_FACTOR * 5):  # a botnet: every address new
        limiter.failed(f"ip:203.0.{n // 256}.{n % 256}", "user:victim")
    wait = limiter.retry_after("ip:198.51.100.7", "user:victim")
    assert 0 < wait <= USER_MAX_DELAY_S  # a stranger's address is slowed, for at most 30 s
    assert limiter.retry_after("ip:10.0.0.1", "user:victim") == 0  # the owner's address is not
