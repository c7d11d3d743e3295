"""Cookie sessions need CSRF tokens; sign-in is throttled and does not reveal which usernames exist."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from app.api.ratelimit import FREE_FAILURES
from tests.app.e2e.server import LiveServer, register_and_approve, upload


def _browser(server: LiveServer, username: str, password: str) -> tuple[httpx.Client, str]:
    c = server.client()
    r = c.post("/api/session", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    return c, r.json()["csrf_token"]


def test_cookie_requests_need_csrf(server: LiveServer, admin: httpx.Client, corpus_dir: Path) -> None:
    register_and_approve(server, admin, "hank")
    browser, csrf = _browser(server, "hank", "hank-long-password-1")
    assert browser.get("/api/users/me").status_code == 200  # safe methods need no token
    capture = corpus_dir / "dns_hostile_names.pcap"
    refused = upload(browser, capture)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    browser.headers["X-CSRF-Token"] = "forged.0000"
    assert upload(browser, capture).status_code == 403
    browser.headers["X-CSRF-Token"] = browser.get("/api/csrf/token").json()["csrf_token"]
    accepted = upload(browser, capture)
    assert accepted.status_code == 202, accepted.text
    task_id = accepted.json()["task_id"]
    del browser.headers["X-CSRF-Token"]
    assert browser.delete(f"/api/reports/{task_id}").status_code == 403
    assert (
        browser.put("/api/users/me", json={"current_password": "x", "new_password": "y" * 20}).status_code
        == 403
    )
    browser.headers["X-CSRF-Token"] = csrf  # the token from sign-in works too
    assert browser.delete(f"/api/reports/{task_id}").status_code == 200
    # a token bound to another session is refused
    other, other_csrf = _browser(server, "hank", "hank-long-password-1")
    browser.headers["X-CSRF-Token"] = other_csrf
    assert browser.delete("/api/session").status_code == 403
    browser.headers["X-CSRF-Token"] = csrf
    assert browser.delete("/api/session").status_code == 200
    assert browser.get("/api/users/me").status_code == 401


def test_pending_account_gets_a_clear_403(server: LiveServer) -> None:
    c = server.client()
    body = {"username": "judy", "email": "judy@example.org", "password": "judy-long-password-1"}
    assert c.post("/api/register", json=body).status_code == 201
    r = c.post("/api/token", data={"username": "judy", "password": "judy-long-password-1"})
    assert r.status_code == 403 and "approval" in r.json()["detail"]
    r = c.post("/api/token", data={"username": "judy", "password": "judy-wrong-password-1"})
    assert r.status_code == 401  # a wrong password says nothing about the account's state


def test_validation_errors_are_json_4xx(server: LiveServer) -> None:
    c = server.client()
    r = c.post("/api/register", json={"username": "kim"})
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], list) and r.json()["detail"][0]["msg"]
    r = c.post("/api/register", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_login_is_throttled_without_revealing_usernames(server: LiveServer, admin: httpx.Client) -> None:
    register_and_approve(server, admin, "ivan")
    c = server.client()
    wrong_user = c.post("/api/token", data={"username": "nobody-here", "password": "whatever-password"})
    wrong_pass = c.post("/api/token", data={"username": "ivan", "password": "whatever-password"})
    assert wrong_user.status_code == wrong_pass.status_code == 401
    assert wrong_user.json() == wrong_pass.json()
    for _ in range(FREE_FAILURES):  # the server's LOGIN_RATE_LIMIT_ATTEMPTS (default 5)
        c.post("/api/token", data={"username": "ivan", "password": "still-wrong"})
    throttled = c.post("/api/token", data={"username": "ivan", "password": "ivan-long-password-1"})
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1


def test_health_docs_and_api_paths(server: LiveServer) -> None:
    # serve started on a database without admin (the whole log: request lines may push it out of the tail)
    assert server.log_path is not None
    assert "pcap-analyzer users create-admin" in server.log_path.read_text(errors="replace")
    c = server.client()
    health = c.get("/api/health")
    assert health.status_code == 200, health.text
    body = health.json()
    assert body["status"] == "ok" and body["database"] is True and body["worker"] == "alive"
    assert body["queue_depth"] >= 0 and body["free_disk_bytes"] > 0
    docs = c.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert assets and not [a for a in assets if "://" in a], assets  # served here, not from a CDN
    for asset in assets:
        assert c.get(asset).status_code == 200, asset
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy"):
        assert name.lower() in health.headers, name
    paths = c.get("/openapi.json").json()["paths"]
    for path, method in [
        ("/api/register", "post"), ("/api/token", "post"), ("/api/users/me", "get"), ("/api/users/me", "put"),
        ("/api/csrf/token", "get"), ("/api/upload", "post"), ("/api/status/{task_id}", "get"),
        ("/api/progress/{task_id}", "get"), ("/api/history", "get"), ("/api/reports/{task_id}/json", "get"),
        ("/api/reports/{task_id}/html", "get"), ("/api/reports/{task_id}", "delete"), ("/api/users", "get"),
        ("/api/admin/users", "post"), ("/api/admin/users/{user_id}/approve", "put"),
        ("/api/admin/users/{user_id}/block", "put"), ("/api/admin/users/{user_id}/unblock", "put"),
        ("/api/admin/users/{user_id}", "delete"), ("/api/admin/users/bulk/approve", "post"),
        ("/api/admin/users/bulk/block", "post"), ("/api/health", "get"),
    ]:  # fmt: skip
        assert method in paths.get(path, {}), (method, path)


def test_without_mail_password_reset_says_so_and_the_admin_path_works(
    server: LiveServer, admin: httpx.Client
) -> None:
    r = httpx.post(f"{server.url}/api/auth/forgot-password", json={"email": "admin@example.org"})
    assert r.status_code == 404 and "ask an administrator" in r.json()["detail"]
    body = {"username": "olga", "email": "olga@example.org", "password": "olga orbit walrus 1987"}
    uid = httpx.post(f"{server.url}/api/register", json=body).json()["id"]
    reset = admin.post(f"/api/admin/users/{uid}/reset-password", json={"send_email": True})
    assert reset.status_code == 200 and reset.json()["user"]["must_change_password"] is True
    assert len(reset.json()["temporary_password"]) >= 20
    assert admin.get("/api/admin/audit", params={"user_id": uid}).json()[0]["details"] == {"emailed": False}
