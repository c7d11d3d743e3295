"""Accounts through the real server on both databases, with a real SMTP server (aiosmtpd) receiving the
mails: password reset by email, token revocation, admin reset and protections, two-factor sign-in."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
import pytest

from app.db.tables import password_reset_tokens
from app.services.postgres_database import DatabasePool
from tests.app.e2e.mailbox import SmtpServer, html_of, reset_link, text_of
from tests.app.e2e.server import LiveServer, free_port, login

NEW_PASSWORD = "tangerine walrus quartz lantern 7"


@pytest.fixture(scope="module")
def server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[LiveServer]:
    port = free_port()
    env = {**smtp.env(), "APP_BASE_URL": f"http://127.0.0.1:{port}", "WORKER_ENABLED": "false"}
    env["HSTS_ENABLED"] = "true"
    live = LiveServer(database_url, tmp_path_factory.mktemp("accounts") / "data", extra_env=env, port=port)
    with live.running_with_admin():
        yield live


def make_user(server: LiveServer, admin: httpx.Client, name: str, password: str | None = None) -> str:
    """Register and approve `name`; return the account id."""
    password = password or f"{name} orbit walrus 1987"
    r = httpx.post(
        f"{server.url}/api/register",
        json={"username": name, "email": f"{name}@example.org", "password": password},
    )
    assert r.status_code == 201, r.text
    assert admin.put(f"/api/admin/users/{r.json()['id']}/approve").status_code == 200
    return str(r.json()["id"])


def bearer(server: LiveServer, name: str, password: str, **form: str) -> httpx.Client:
    """A client signed in with a bearer token (`form`: more sign-in fields, e.g. totp_code)."""
    client = server.client()
    r = client.post("/api/token", data={"username": name, "password": password, **form})
    assert r.status_code == 200, r.text
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


def browser_session(server: LiveServer, name: str, password: str) -> tuple[httpx.Client, str]:
    """A cookie session like the browser's, and its CSRF token."""
    client = server.client()
    r = client.post("/api/session", data={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return client, r.json()["csrf_token"]


def test_registration_answers_the_same_for_taken_names_and_mails_the_reason(
    server: LiveServer, admin: httpx.Client, smtp: SmtpServer
) -> None:
    def register(name: str, address: str) -> httpx.Response:
        body = {"username": name, "email": address, "password": "carol orbit walrus 1987"}
        return httpx.post(f"{server.url}/api/register", json=body)

    new = register("carol", "carol@example.org")
    assert new.status_code == 201
    assert "must approve it" in text_of(
        smtp.mailbox.wait_for("carol@example.org", "registration was received")
    )
    to_admin = smtp.mailbox.wait_for("admin@example.org", "waiting for approval: carol")
    assert "carol@example.org" in text_of(to_admin) and "/admin" in html_of(to_admin)

    taken_name = register("carol", "someone@example.org")
    taken_mail = register("carol2", "Carol@example.org")
    for answer in (taken_name, taken_mail):
        assert answer.status_code == new.status_code
        assert answer.json().keys() == new.json().keys()
        assert answer.json()["id"] != new.json()["id"]
        assert answer.json()["is_approved"] is False
    assert "already taken" in text_of(smtp.mailbox.wait_for("someone@example.org", "registration"))
    conflict = smtp.mailbox.wait_for("carol@example.org", "About your pcap-analyzer registration")
    assert "already belongs to an account" in text_of(conflict)
    users = admin.get("/api/users").json()["users"]
    assert [u["username"] for u in users].count("carol") == 1
    assert "carol2" not in [u["username"] for u in users]

    assert admin.put(f"/api/admin/users/{new.json()['id']}/approve").status_code == 200
    assert "approved" in text_of(smtp.mailbox.wait_for("carol@example.org", "account was approved"))


def test_password_reset_by_email(server: LiveServer, admin: httpx.Client, smtp: SmtpServer) -> None:
    make_user(server, admin, "dora", "dora orbit walrus 1987")
    signed_in = bearer(server, "dora", "dora orbit walrus 1987")
    known = httpx.post(f"{server.url}/api/auth/forgot-password", json={"email": "dora@example.org"})
    unknown = httpx.post(f"{server.url}/api/auth/forgot-password", json={"email": "nobody@example.org"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert known.status_code == 200

    mail = smtp.mailbox.wait_for("dora@example.org", "Reset your")
    link = reset_link(mail)
    assert link.startswith(server.url + "/reset-password?token=") and link in html_of(mail)
    token = parse_qs(urlparse(link).query)["token"][0]
    assert len(base64.urlsafe_b64decode(token + "=")) == 32  # 256 random bits
    time.sleep(1)
    assert smtp.mailbox.to("nobody@example.org") == []

    valid = httpx.post(f"{server.url}/api/auth/validate-reset-token", json={"token": token})
    assert valid.json() == {"valid": True}
    assert httpx.get(link).status_code == 200  # the page the link opens

    weak = httpx.post(
        f"{server.url}/api/auth/reset-password", json={"token": token, "new_password": "dora12345678"}
    )
    assert weak.status_code == 400 and "guess" in weak.json()["detail"]
    assert signed_in.get("/api/users/me").status_code == 200
    done = httpx.post(
        f"{server.url}/api/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert done.status_code == 200, done.text

    assert signed_in.get("/api/users/me").status_code == 401  # the old JWT is refused after the reset
    again = httpx.post(
        f"{server.url}/api/auth/reset-password", json={"token": token, "new_password": "x" * 20}
    )
    assert again.status_code == 400 and "invalid, used or expired" in again.json()["detail"]
    assert httpx.post(f"{server.url}/api/auth/validate-reset-token", json={"token": token}).json() == {
        "valid": False
    }
    old = httpx.post(
        f"{server.url}/api/token", data={"username": "dora", "password": "dora orbit walrus 1987"}
    )
    assert old.status_code == 401
    assert bearer(server, "dora", NEW_PASSWORD).get("/api/users/me").json()["username"] == "dora"
    assert "with a reset link" in text_of(smtp.mailbox.wait_for("dora@example.org", "password was changed"))
    audit = admin.get("/api/admin/audit").json()
    assert any(e["action"] == "password.reset" for e in audit)


async def _expire_reset_tokens(url: str) -> None:
    async with DatabasePool(url) as db, db.engine.begin() as conn:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await conn.execute(password_reset_tokens.update().values(expires_at=past))


def test_reset_links_expire_and_die_with_a_password_change(
    server: LiveServer, admin: httpx.Client, smtp: SmtpServer
) -> None:
    make_user(server, admin, "erin", "erin orbit walrus 1987")

    def new_link(count: int) -> str:
        r = httpx.post(f"{server.url}/api/auth/forgot-password", json={"email": "erin@example.org"})
        assert r.status_code == 200
        link = reset_link(smtp.mailbox.wait_for("erin@example.org", "Reset your", count=count))
        return parse_qs(urlparse(link).query)["token"][0]

    def valid(token: str) -> bool:
        r = httpx.post(f"{server.url}/api/auth/validate-reset-token", json={"token": token})
        return bool(r.json()["valid"])

    expired = new_link(1)
    asyncio.run(_expire_reset_tokens(server.database_url))
    assert not valid(expired)
    r = httpx.post(
        f"{server.url}/api/auth/reset-password", json={"token": expired, "new_password": NEW_PASSWORD}
    )
    assert r.status_code == 400

    pending = new_link(2)
    assert valid(pending)
    user = bearer(server, "erin", "erin orbit walrus 1987")
    changed = user.put(
        "/api/users/me", json={"current_password": "erin orbit walrus 1987", "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200
    assert not valid(pending)  # the link was for the old password
    assert not valid("forged-" + pending[7:])


def test_forgot_password_is_limited_per_address(server: LiveServer) -> None:
    def ask(address: str) -> httpx.Response:
        return httpx.post(f"{server.url}/api/auth/forgot-password", json={"email": address})

    # The limit is per client address and per email address: 5 requests, then a wait that doubles.
    # (Earlier tests of this module asked from the same client address already.)
    answers = [ask("admin@example.org").status_code for _ in range(6)]
    assert answers[0] == 200 and answers[-1] == 429, answers
    assert set(answers[answers.index(429) :]) == {429}  # the wait starts at 30 s
    refused = ask("nobody-at-all@example.org")  # an unknown address is answered the same
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_tokens_are_revoked_on_sign_out_password_change_block_and_admin_reset(
    server: LiveServer, admin: httpx.Client, smtp: SmtpServer
) -> None:
    uid = make_user(server, admin, "fred", "fred orbit walrus 1987")
    password = "fred orbit walrus 1987"
    api = bearer(server, "fred", password)
    browser, csrf = browser_session(server, "fred", password)
    assert browser.get("/api/users/me").status_code == 200
    out = browser.delete("/api/session", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 200
    stolen_cookie = out.request.headers["cookie"]
    replay = httpx.get(f"{server.url}/api/users/me", headers={"Cookie": stolen_cookie})
    assert replay.status_code == 401  # the old cookie no longer works anywhere
    assert api.get("/api/users/me").status_code == 401  # nor the older bearer token: all sessions end

    api = bearer(server, "fred", password)
    browser, csrf = browser_session(server, "fred", password)
    changed = browser.put(
        "/api/users/me",
        json={"current_password": password, "new_password": NEW_PASSWORD},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 200
    assert api.get("/api/users/me").status_code == 401  # a token from before the change
    assert browser.get("/api/users/me").status_code == 200  # the session that changed it got a new cookie
    assert browser.get("/api/history").status_code == 200

    api = bearer(server, "fred", NEW_PASSWORD)
    assert admin.put(f"/api/admin/users/{uid}/block").status_code == 200
    assert admin.put(f"/api/admin/users/{uid}/unblock").status_code == 200
    assert api.get("/api/users/me").status_code == 401  # unblocking does not revive old tokens

    api = bearer(server, "fred", NEW_PASSWORD)
    reset = admin.post(f"/api/admin/users/{uid}/reset-password", json={"send_email": True})
    assert reset.status_code == 200, reset.text
    temporary = reset.json()["temporary_password"]
    assert reset.json()["user"]["must_change_password"] is True
    assert api.get("/api/users/me").status_code == 401
    assert temporary in text_of(smtp.mailbox.wait_for("fred@example.org", "temporary"))
    first = server.client()
    assert login(first, "fred", temporary)["must_change_password"] is True
    assert first.get("/api/history").status_code == 403  # the temporary password must be changed first
    r = first.put(
        "/api/users/me", json={"current_password": temporary, "new_password": "fred quartz fjord 2031"}
    )
    assert r.status_code == 200, r.text
    assert bearer(server, "fred", "fred quartz fjord 2031").get("/api/history").status_code == 200
    entries = admin.get("/api/admin/audit", params={"user_id": uid}).json()
    actions = [e["action"] for e in entries]
    assert {"user.reset_password", "user.block", "user.unblock"} <= set(actions)
    assert entries[actions.index("user.reset_password")]["details"] == {"emailed": True}


def test_acting_on_another_admin_needs_confirmation(server: LiveServer, admin: httpx.Client) -> None:
    created = admin.post(
        "/api/admin/users", json={"username": "second", "email": "second@x.org", "role": "admin"}
    )
    assert created.status_code == 201
    second = created.json()["user"]["id"]
    for request in (
        lambda confirm: admin.put(f"/api/admin/users/{second}/block", params=confirm),
        lambda confirm: admin.post(f"/api/admin/users/{second}/reset-password", json=confirm),
        lambda confirm: admin.delete(f"/api/admin/users/{second}", params=confirm),
    ):
        refused = request({})
        assert refused.status_code == 409 and "confirm=true" in refused.json()["detail"]
        assert request({"confirm": True}).status_code == 200
    entries = admin.get("/api/admin/audit", params={"user_id": second}).json()
    assert [e["action"] for e in entries][:3] == ["user.delete", "user.reset_password", "user.block"]
    bulk = admin.post(
        "/api/admin/users/bulk/block", json={"user_ids": [admin.get("/api/users/me").json()["id"]]}
    )
    assert bulk.json()["done"] == []


def test_two_factor_sign_in(server: LiveServer, admin: httpx.Client, smtp: SmtpServer) -> None:
    make_user(server, admin, "gina", "gina orbit walrus 1987")
    password = "gina orbit walrus 1987"
    user = bearer(server, "gina", password)
    setup = user.post("/api/users/me/2fa/setup")
    assert setup.status_code == 200
    body = setup.json()
    secret = body["secret"]
    assert body["otpauth_uri"].startswith("otpauth://totp/pcap-analyzer:gina?secret=" + secret)
    assert body["qr_code"].startswith("data:image/svg+xml;base64,")
    assert b"<svg" in base64.b64decode(body["qr_code"].split(",", 1)[1])
    totp = pyotp.TOTP(secret)

    wrong = user.post("/api/users/me/2fa/enable", json={"secret": secret, "code": "000000"})
    assert wrong.status_code == 400
    now_code = totp.now()
    enabled = user.post("/api/users/me/2fa/enable", json={"secret": secret, "code": now_code})
    assert enabled.status_code == 200, enabled.text
    codes = enabled.json()["backup_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert user.get("/api/users/me").json()["totp_enabled"] is True
    assert "turned on" in text_of(
        smtp.mailbox.wait_for("gina@example.org", "Two-factor sign-in was turned on")
    )

    def sign_in(code: str | None) -> httpx.Response:
        form = {"username": "gina", "password": password} | ({"totp_code": code} if code else {})
        return httpx.post(f"{server.url}/api/token", data=form)

    missing = sign_in(None)
    assert missing.status_code == 401 and missing.headers["X-MFA-Required"] == "true"
    assert sign_in("123456").status_code == 401
    assert sign_in(now_code).status_code == 401  # replay of the code used to enable
    next_code = totp.at(time.time() + 30)  # the next step is within the ±1 step window
    assert sign_in(next_code).status_code == 200
    assert sign_in(next_code).status_code == 401  # used once
    assert sign_in(codes[0]).status_code == 200
    assert sign_in(codes[0]).status_code == 401  # a backup code works once
    assert sign_in(codes[1].upper().replace("-", "")).status_code == 200  # case and dashes do not matter

    user = bearer(server, "gina", password, totp_code=codes[2])
    refused = user.post("/api/users/me/2fa/disable", json={"password": "wrong password!", "code": codes[3]})
    assert refused.status_code == 400
    off = user.post("/api/users/me/2fa/disable", json={"password": password, "code": codes[3]})
    assert off.status_code == 200, off.text
    assert sign_in(None).status_code == 200
    assert smtp.mailbox.wait_for("gina@example.org", "turned off")
    actions = [e["action"] for e in admin.get("/api/admin/audit").json()]
    assert "2fa.enable" in actions and "2fa.disable" in actions


def test_two_factor_codes_are_throttled(server: LiveServer, admin: httpx.Client) -> None:
    make_user(server, admin, "hugo", "hugo orbit walrus 1987")
    user = bearer(server, "hugo", "hugo orbit walrus 1987")
    secret = user.post("/api/users/me/2fa/setup").json()["secret"]
    r = user.post("/api/users/me/2fa/enable", json={"secret": secret, "code": pyotp.TOTP(secret).now()})
    assert r.status_code == 200
    form = {"username": "hugo", "password": "hugo orbit walrus 1987"}
    answers = [
        httpx.post(f"{server.url}/api/token", data=form | {"totp_code": f"{n:06d}"}).status_code
        for n in range(6)
    ]
    assert answers == [401] * 5 + [429], answers
    # Even the right code waits now: guessing 10^6 codes is out of reach.
    good = httpx.post(f"{server.url}/api/token", data=form | {"totp_code": pyotp.TOTP(secret).now()})
    assert good.status_code == 429


def test_hsts_header(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/api/health")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
