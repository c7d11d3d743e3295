"""The API end to end through a real `pcap-analyzer serve` process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.app.e2e.server import LiveServer, login, register_and_approve, sse_events, upload, wait_status


def test_full_journey(
    server: LiveServer, admin: httpx.Client, corpus_dir: Path, oracle: dict[str, Any]
) -> None:
    user = register_and_approve(server, admin, "journey")
    me = user.get("/api/users/me").json()
    assert me["username"] == "journey" and me["is_approved"] and me["role"] == "user"

    r = upload(user, corpus_dir / "netns_mixed_s128.pcap", name="../../etc/passwd\x00 s128.pcap")
    assert r.status_code == 202, r.text
    accepted = r.json()
    task_id = accepted["task_id"]
    assert accepted["status"] == "pending"
    assert "/" not in accepted["filename"] and "\x00" not in accepted["filename"]
    assert len(accepted["sha256"]) == 64

    events = list(sse_events(user, task_id))
    names = [name for name, _ in events]
    assert names[-1] == "complete" and names.count("complete") == 1
    assert names.count("progress") >= 1, events
    final = json.loads(events[-1][1])
    assert final["status"] == "completed", final
    percents = [json.loads(d)["progress_percent"] for n, d in events if n == "progress"]
    assert percents == sorted(percents)

    expected_packets = oracle["netns_mixed_s128.pcap"]["file"]["frames"]
    status = user.get(f"/api/status/{task_id}").json()
    assert status["total_packets"] == expected_packets
    assert status["warning_message"] is None

    report = user.get(f"/api/reports/{task_id}/json")
    assert report.status_code == 200 and report.headers["content-type"].startswith("application/json")
    assert report.json()["capture"]["packets"] == expected_packets

    html = user.get(f"/api/reports/{task_id}/html")
    assert html.status_code == 200
    csp = html.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert html.headers["x-content-type-options"] == "nosniff"
    assert html.headers["referrer-policy"]
    assert "__PCAP_ANALYZER_CSP_NONCE__" not in html.text
    for tag in re.findall(r"<script\b[^>]*>", html.text):
        data_island = 'type="application/json"' in tag  # not executed, so not subject to script-src
        assert f'nonce="{nonce.group(1)}"' in tag or "src=" in tag or data_island, tag
    assets = set(re.findall(r'(?:src|href)="(/static/report/[^"]+)"', html.text))
    assert assets
    for asset in assets:
        assert user.get(asset).status_code == 200, asset
    again = user.get(f"/api/reports/{task_id}/html").headers["content-security-policy"]
    assert again != csp  # a fresh nonce per response

    history = user.get("/api/history").json()
    assert [t["task_id"] for t in history["tasks"]] == [task_id]

    assert user.delete(f"/api/reports/{task_id}").status_code == 200
    assert user.get(f"/api/status/{task_id}").status_code == 404
    assert not list((server.data_dir / "uploads").glob(f"{task_id}*"))
    assert not list((server.data_dir / "reports").glob(f"{task_id}*"))


def test_isolation_between_users(server: LiveServer, admin: httpx.Client, corpus_dir: Path) -> None:
    alice = register_and_approve(server, admin, "alice")
    bob = register_and_approve(server, admin, "bob")
    task_id = upload(alice, corpus_dir / "dns_hostile_names.pcap").json()["task_id"]
    assert wait_status(alice, task_id, {"completed", "failed"})["status"] == "completed"
    for method, path in [
        ("GET", f"/api/status/{task_id}"),
        ("GET", f"/api/progress/{task_id}"),
        ("GET", f"/api/reports/{task_id}/json"),
        ("GET", f"/api/reports/{task_id}/html"),
        ("DELETE", f"/api/reports/{task_id}"),
    ]:
        r = bob.request(method, path)
        assert r.status_code == 404, (method, path, r.status_code)
        assert r.json() == {"detail": "analysis not found"}
    assert task_id not in [t["task_id"] for t in bob.get("/api/history").json()["tasks"]]
    seen = {t["task_id"]: t for t in admin.get("/api/history").json()["tasks"]}
    assert seen[task_id]["owner_username"] == "alice"
    assert alice.get(f"/api/reports/{task_id}/json").status_code == 200


def test_admin_endpoints_refuse_users_and_anonymous(server: LiveServer, admin: httpx.Client) -> None:
    user = register_and_approve(server, admin, "carol")
    anonymous = server.client()
    target = user.get("/api/users/me").json()["id"]
    calls = [
        ("GET", "/api/users", None),
        ("POST", "/api/admin/users", {"username": "x1", "email": "x1@example.org"}),
        ("PUT", f"/api/admin/users/{target}/approve", None),
        ("PUT", f"/api/admin/users/{target}/block", None),
        ("PUT", f"/api/admin/users/{target}/unblock", None),
        ("DELETE", f"/api/admin/users/{target}", None),
        ("POST", "/api/admin/users/bulk/approve", {"user_ids": [target]}),
        ("POST", "/api/admin/users/bulk/block", {"user_ids": [target]}),
        ("GET", "/api/admin/audit", None),
    ]
    for method, path, body in calls:
        assert user.request(method, path, json=body).status_code == 403, path
        assert anonymous.request(method, path, json=body).status_code == 401, path
    assert user.get("/api/users/me").status_code == 200  # nothing above took effect


def test_garbage_upload_is_refused_and_leaves_nothing(
    server: LiveServer, admin: httpx.Client, tmp_path: Path
) -> None:
    user = register_and_approve(server, admin, "dave")
    garbage = tmp_path / "notes.pcap"
    garbage.write_bytes(b"this is not a capture at all\n" * 1000)
    r = upload(user, garbage)
    assert r.status_code == 415
    assert "not a pcap or pcapng capture" in r.json()["detail"]
    assert user.get("/api/history").json()["total"] == 0
    assert not [p for p in (server.data_dir / "uploads").iterdir() if "dave" in p.name or p.suffix == ".part"]


def test_truncated_capture_completes_with_warning(
    server: LiveServer, admin: httpx.Client, corpus_dir: Path, oracle: dict[str, Any]
) -> None:
    user = register_and_approve(server, admin, "erin")
    task_id = upload(user, corpus_dir / "netns_mixed_truncated.pcap").json()["task_id"]
    final = wait_status(user, task_id, {"completed", "failed"})
    assert final["status"] == "completed", final
    assert final["warning_message"]
    assert final["total_packets"] == oracle["netns_mixed_truncated.pcap"]["file"]["frames"]


def test_audit_log_records_admin_actions(server: LiveServer, admin: httpx.Client) -> None:
    user = register_and_approve(server, admin, "frank")
    uid = user.get("/api/users/me").json()["id"]
    assert admin.put(f"/api/admin/users/{uid}/block").status_code == 200
    assert user.get("/api/history").status_code == 401  # a blocked account's token is revoked
    assert admin.put(f"/api/admin/users/{uid}/unblock").status_code == 200
    actions = [(e["action"], e["target_user_id"]) for e in admin.get("/api/admin/audit").json()]
    assert actions[:3] == [("user.unblock", uid), ("user.block", uid), ("user.approve", uid)]


def test_temporary_password_must_be_changed(server: LiveServer, admin: httpx.Client) -> None:
    r = admin.post("/api/admin/users", json={"username": "gina", "email": "gina@example.org", "role": "user"})
    assert r.status_code == 201, r.text
    temp = r.json()["temporary_password"]
    c = server.client()
    token = c.post("/api/token", data={"username": "gina", "password": temp}).json()
    assert token["must_change_password"] is True
    c.headers["Authorization"] = f"Bearer {token['access_token']}"
    assert c.get("/api/history").status_code == 403
    assert c.get("/api/users/me").json()["must_change_password"] is True
    new = "gina-chose-a-long-password"
    assert c.put("/api/users/me", json={"current_password": temp, "new_password": new}).status_code == 200
    assert c.get("/api/history").status_code == 401  # the change revoked the token: sign in again
    login(c, "gina", new)
    assert c.get("/api/history").status_code == 200


def test_admin_bulk_actions_and_delete_with_files(
    server: LiveServer, admin: httpx.Client, corpus_dir: Path
) -> None:
    anonymous = server.client()
    ids = []
    for name in ("lena", "mike"):
        body = {"username": name, "email": f"{name}@example.org", "password": f"{name}-long-password-1"}
        ids.append(anonymous.post("/api/register", json=body).json()["id"])
    pending = admin.get("/api/users", params={"status": "pending"}).json()
    assert {u["id"] for u in pending["users"]} >= set(ids)
    bogus = "00000000-0000-0000-0000-000000000000"
    r = admin.post("/api/admin/users/bulk/approve", json={"user_ids": [*ids, bogus]})
    assert r.status_code == 200 and r.json()["done"] == ids and list(r.json()["failed"]) == [bogus]
    assert admin.post("/api/admin/users/bulk/block", json={"user_ids": ids}).json()["done"] == ids
    blocked = admin.get("/api/users", params={"status": "blocked"}).json()["users"]
    assert set(ids) <= {u["id"] for u in blocked}
    assert admin.put(f"/api/admin/users/{ids[0]}/unblock").status_code == 200

    lena = server.client()
    login(lena, "lena", "lena-long-password-1")
    task_id = upload(lena, corpus_dir / "dns_hostile_names.pcap").json()["task_id"]
    wait_status(lena, task_id, {"completed", "failed"})
    assert list((server.data_dir / "uploads").glob(f"{task_id}.*"))
    assert admin.delete(f"/api/admin/users/{ids[0]}").status_code == 200
    assert not list((server.data_dir / "uploads").glob(f"{task_id}.*"))
    assert not list((server.data_dir / "reports").glob(f"{task_id}.*"))
    assert task_id not in {t["task_id"] for t in admin.get("/api/history").json()["tasks"]}
    assert lena.get("/api/users/me").status_code == 401
    assert admin.delete(f"/api/admin/users/{ids[0]}").status_code == 404
    me = admin.get("/api/users/me").json()["id"]
    assert admin.delete(f"/api/admin/users/{me}").status_code == 403  # not yourself
    audit = [
        (e["action"], e["target_user_id"]) for e in admin.get("/api/admin/audit", params={"limit": 10}).json()
    ]
    assert audit[0] == ("user.delete", ids[0])


def test_compressed_captures_are_analysed(
    server: LiveServer, admin: httpx.Client, corpus_dir: Path, oracle: dict[str, Any], tmp_path: Path
) -> None:
    import gzip

    import zstandard

    user = register_and_approve(server, admin, "nina")
    raw = (corpus_dir / "netns_mixed_nsec.pcap").read_bytes()
    frames = oracle["netns_mixed_nsec.pcap"]["file"]["frames"]
    for name, data in (
        ("trace.pcap.gz", gzip.compress(raw, compresslevel=1)),
        ("trace.pcap.zst", zstandard.ZstdCompressor(level=1).compress(raw)),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        accepted = upload(user, path)
        assert accepted.status_code == 202, accepted.text
        final = wait_status(user, accepted.json()["task_id"], {"completed", "failed"})
        assert final["status"] == "completed", final
        assert final["total_packets"] == frames
