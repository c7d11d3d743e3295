"""Anonymous callers cannot tell which accounts exist: sign-in and password-reset answers have the same
status, body and time for known and unknown names, through the real server on both databases. The same
server runs with REQUIRE_ADMIN_2FA=true."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pyotp
import pytest

from tests.app.e2e.mailbox import SmtpServer
from tests.app.e2e.server import ADMIN_PASSWORD, LiveServer, free_port, login

ROUNDS = 40
PAUSE_S = 0.1


@pytest.fixture(scope="module")
def server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[LiveServer]:
    port = free_port()
    env = {
        **smtp.env(),
        "APP_BASE_URL": f"http://127.0.0.1:{port}",
        "WORKER_ENABLED": "false",
        # Throttling would answer 429 long before enough samples: measure the unthrottled paths.
        "LOGIN_RATE_LIMIT_ATTEMPTS": "100000",
        "REQUIRE_ADMIN_2FA": "true",
    }
    live = LiveServer(database_url, tmp_path_factory.mktemp("enum") / "data", extra_env=env, port=port)
    with live.running_with_admin():
        yield live


def timed(
    client: httpx.Client, send: Callable[[httpx.Client, str], httpx.Response], names: list[str]
) -> dict[str, Any]:
    """Answers and durations (ms) per name. The names alternate in ABBA order so that load drifts hit
    all alike, with a pause after each request: work the server does after answering (mailing a reset
    link) must not be counted against the next request."""
    answers: dict[str, set[tuple[int, str]]] = {n: set() for n in names}
    durations: dict[str, list[float]] = {n: [] for n in names}
    for round_ in range(ROUNDS):
        for name in names if round_ % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            r = send(client, name)
            durations[name].append((time.perf_counter() - start) * 1000)
            answers[name].add((r.status_code, r.text))
            time.sleep(PAUSE_S)
    return {"answers": answers, "median_ms": {n: statistics.median(d) for n, d in durations.items()}}


def assert_similar(median_ms: dict[str, float]) -> None:
    """Medians within 15 % (at least 3 ms) of each other: the defect was a steady 2.3-3.3 ms extra."""
    low, high = min(median_ms.values()), max(median_ms.values())
    assert high - low <= max(3.0, 0.15 * low), median_ms


def test_sign_in_answers_the_same_for_known_and_unknown_users(server: LiveServer) -> None:
    with server.client() as client:

        def sign_in(c: httpx.Client, name: str) -> httpx.Response:
            return c.post("/api/token", data={"username": name, "password": "not the password at all"})

        sign_in(client, "admin")  # warm up
        result = timed(client, sign_in, ["admin", "nosuchuser"])
    known, unknown = result["answers"]["admin"], result["answers"]["nosuchuser"]
    assert known == unknown and len(known) == 1
    assert next(iter(known))[0] == 401
    print("sign-in medians (ms):", result["median_ms"])
    assert_similar(result["median_ms"])


def test_password_reset_answers_the_same_for_known_and_unknown_addresses(
    server: LiveServer, smtp: SmtpServer
) -> None:
    with server.client() as client:

        def forgot(c: httpx.Client, address: str) -> httpx.Response:
            return c.post("/api/auth/forgot-password", json={"email": address})

        result = timed(client, forgot, ["admin@example.org", "nobody@example.org"])
    known, unknown = result["answers"]["admin@example.org"], result["answers"]["nobody@example.org"]
    assert known == unknown and len(known) == 1
    assert next(iter(known))[0] == 200
    print("forgot-password medians (ms):", result["median_ms"])
    assert_similar(result["median_ms"])
    smtp.mailbox.wait_for("admin@example.org", "Reset your", count=ROUNDS)
    assert smtp.mailbox.to("nobody@example.org") == []


def test_admins_must_turn_on_two_factor_sign_in_first(server: LiveServer) -> None:
    with server.client() as admin:
        login(admin, "admin", ADMIN_PASSWORD)
        assert admin.get("/api/users/me").status_code == 200
        refused = admin.get("/api/users")
        assert refused.status_code == 403 and "two-factor" in refused.json()["detail"]
        secret = admin.post("/api/users/me/2fa/setup").json()["secret"]
        totp = pyotp.TOTP(secret)
        enabled = admin.post("/api/users/me/2fa/enable", json={"secret": secret, "code": totp.now()})
        assert enabled.status_code == 200
        assert admin.get("/api/users").status_code == 200
        codes = enabled.json()["backup_codes"]
        kept = admin.post("/api/users/me/2fa/disable", json={"password": ADMIN_PASSWORD, "code": codes[0]})
        assert kept.status_code == 400 and "REQUIRE_ADMIN_2FA" in kept.json()["detail"]
