"""The log formatters, the secret filter and the LOG_* settings (the live-server side is in e2e)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.config import load_settings
from app.errors import ConfigError
from app.logging import configure_logging, redact, request_id_var, task_id_var, user_id_var

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Authorization: Bearer abc.DEF-123_xyz", "abc.DEF-123_xyz"),
        (f"decoded {JWT} ok", JWT),
        ("form username=bob&password=hunter2-long-pass&x=1", "hunter2-long-pass"),
        ('body {"current_password": "old pass words", "new_password": "n3w-one"}', "old pass words"),
        ("cookie: session=abcdef0123456789", "abcdef0123456789"),
        ("reset link /reset?token=s3cr3t-t0k3n", "s3cr3t-t0k3n"),
        ("METRICS_TOKEN='scrape-me-please'", "scrape-me-please"),
    ],
)
def test_redact_masks_secrets(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned and "[REDACTED]" in cleaned


def test_redact_keeps_ordinary_text() -> None:
    line = "task 3f1c2a7d: attempt 1/3 for user 8d0e (5 packets, token bucket refilled)"
    assert redact(line) == line


def _capture(fmt: str) -> tuple[io.StringIO, logging.Logger]:
    stream = io.StringIO()
    configure_logging("DEBUG", fmt, stream=stream)
    return stream, logging.getLogger("app.test")


def test_json_lines_carry_the_context() -> None:
    stream, log = _capture("json")
    tokens = (request_id_var.set("req-1"), user_id_var.set("user-2"), task_id_var.set("task-3"))
    try:
        log.debug("login with password=%s", "pw-should-vanish")
    finally:
        for var, token in zip((request_id_var, user_id_var, task_id_var), tokens, strict=True):
            var.reset(token)
    log.warning("no context here")
    first, second = (json.loads(x) for x in stream.getvalue().splitlines())
    assert first["level"] == "DEBUG" and first["logger"] == "app.test"
    assert (first["request_id"], first["user_id"], first["task_id"]) == ("req-1", "user-2", "task-3")
    assert "pw-should-vanish" not in stream.getvalue()
    assert first["timestamp"].endswith("+00:00")
    assert second["request_id"] is None and second["message"] == "no context here"


def test_text_format_and_library_levels() -> None:
    stream, log = _capture("text")
    log.info("hello")
    logging.getLogger("sqlalchemy.engine").info("SELECT secret parameters")  # libraries: warnings only
    out = stream.getvalue()
    assert "INFO app.test: hello" in out and "SELECT" not in out


def test_log_settings_are_validated() -> None:
    settings = load_settings(LOG_LEVEL="debug", LOG_FORMAT="JSON")
    assert (settings.LOG_LEVEL, settings.LOG_FORMAT) == ("DEBUG", "json")
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_settings(LOG_FORMAT="xml")
    with pytest.raises(ConfigError, match="METRICS_TOKEN: must be at least 16 characters"):
        load_settings(METRICS_TOKEN="short")


async def test_request_ids_are_echoed_logged_and_quoted_in_500s() -> None:
    import httpx
    from fastapi import FastAPI

    from app.api.errors import install_error_handlers
    from app.logging import RequestContext

    app = FastAPI()
    install_error_handlers(app)
    seen: list[tuple[str, str, int]] = []
    app.add_middleware(RequestContext, on_response=lambda m, r, s, _t: seen.append((m, r, s)))

    @app.get("/items/{task_id}")
    async def item(task_id: str) -> dict[str, str]:
        return {"id": task_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("internal detail")

    stream, _ = _capture("json")
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ok = await client.get("/items/abc", headers={"X-Request-ID": "given-id-1"})
        bad_id = await client.get("/items/abc", headers={"X-Request-ID": "bad id with spaces"})
        failed = await client.get("/boom")
        missing = await client.get("/nowhere?token=zzz-secret")
    assert missing.status_code == 404 and missing.headers["X-Request-ID"]
    assert ok.headers["X-Request-ID"] == "given-id-1"
    assert bad_id.headers["X-Request-ID"] != "bad id with spaces"
    assert failed.status_code == 500
    assert seen == [
        ("GET", "/items/{task_id}", 200),
        ("GET", "/items/{task_id}", 200),
        ("GET", "/boom", 500),
        ("GET", "<unmatched>", 404),
    ]
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    requests = [x for x in lines if x["logger"] == "app.request"]
    assert [x["task_id"] for x in requests[:2]] == ["abc", "abc"]
    assert requests[0]["request_id"] == "given-id-1"
    boom_line = next(x for x in requests if x["route"] == "/boom")
    assert failed.json()["request_id"] == boom_line["request_id"]
    assert "zzz-secret" not in stream.getvalue()
