"""The error handler: expected failures are JSON 4xx, validation 422, the unexpected a 500 with an id."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from app.api.errors import install_error_handlers
from app.errors import AppError, Conflict


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/conflict")
    async def conflict() -> None:
        raise Conflict("the username 'x' is already taken")

    @app.get("/weak")
    async def weak() -> None:
        raise AppError("the password is too short", 422)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    @app.get("/typed/{n}")
    async def typed(n: int) -> int:
        return n

    return app


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_app_errors_are_json_with_their_status() -> None:
    r = await _get("/conflict")
    assert r.status_code == 409 and r.json() == {"detail": "the username 'x' is already taken"}


async def test_422_keeps_the_documented_list_shape() -> None:
    r = await _get("/weak")
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == "the password is too short"
    r = await _get("/typed/abc")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "n"]
    assert "input" not in r.json()["detail"][0]  # the rejected value is not echoed back


async def test_unexpected_errors_are_500_with_request_id_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="app.api"):
        r = await _get("/boom")
    assert r.status_code == 500
    body = r.json()
    assert body["request_id"] in body["detail"] and r.headers["x-request-id"] == body["request_id"]
    assert "secret internal detail" not in r.text and "Traceback" not in r.text
    [record] = [rec for rec in caplog.records if rec.name == "app.api"]
    assert body["request_id"] in record.getMessage() and record.exc_info is not None
