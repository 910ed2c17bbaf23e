"""The shared error middleware over real HTTP: every error a client sees is
`{"error": {"code", "message"}}`, an unexpected one without its traceback."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from libs.common.http import ApiError, json_errors


class Boom(Exception):
    pass


class Mapped(Exception):
    pass


async def refuse(request: web.Request) -> web.Response:
    raise ApiError(409, "taken", "already taken", {"attempt_id": "pi_1"})


async def crash(request: web.Request) -> web.Response:
    raise Boom("secret detail")


async def mapped(request: web.Request) -> web.Response:
    raise Mapped("upstream")


async def echo(request: web.Request) -> web.Response:
    return web.json_response({"size": len(await request.read())})


def translate(exc: Exception) -> ApiError | None:
    return ApiError(502, "upstream_failed", "upstream failed") if isinstance(exc, Mapped) else None


@pytest.fixture
async def base() -> AsyncIterator[str]:
    app = web.Application(middlewares=[json_errors(translate)], client_max_size=1024)
    app.router.add_get("/refuse", refuse)
    app.router.add_get("/crash", crash)
    app.router.add_get("/mapped", mapped)
    app.router.add_post("/echo", echo)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def call(base: str, method: str, path: str, data: bytes = b"") -> tuple[int, Any, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, base + path, data=data) as resp,
    ):
        return resp.status, await resp.json(), resp.headers.get("Allow", "")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nowhere", 404, "not_found"),
        ("DELETE", "/refuse", 405, "method_not_allowed"),
        ("GET", "/refuse", 409, "taken"),
        ("GET", "/mapped", 502, "upstream_failed"),
    ],
)
async def test_errors_are_json(base: str, method: str, path: str, status: int, code: str) -> None:
    got, body, _ = await call(base, method, path)
    assert got == status
    assert body["error"]["code"] == code and body["error"]["message"]


async def test_405_says_what_is_allowed_and_details_travel(base: str) -> None:
    _, _, allow = await call(base, "DELETE", "/refuse")
    _, body, _ = await call(base, "GET", "/refuse")
    assert "GET" in allow
    assert body["error"]["attempt_id"] == "pi_1"


async def test_an_oversized_body_is_413_json(base: str) -> None:
    status, body, _ = await call(base, "POST", "/echo", b"x" * 4096)
    assert status == 413 and body["error"]["code"] == "body_too_large"


async def test_an_unexpected_failure_is_500_logged_without_traceback(
    base: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="libs.common.http"):
        status, body, _ = await call(base, "GET", "/crash")
    assert status == 500
    assert body == {
        "error": {"code": "internal_error", "message": "the server failed; try again later"}
    }
    assert any(r.exc_info and r.exc_info[0] is Boom for r in caplog.records)


async def test_oversized_headers_are_refused_by_aiohttp_before_any_middleware(base: str) -> None:
    # Documented limit: aiohttp's parser answers this itself, as plain text; if this starts
    # failing, aiohttp lets applications shape it and the middleware should.
    async with (
        aiohttp.ClientSession() as session,
        session.get(base + "/refuse", headers={"X-Big": "a" * 9000}) as resp,
    ):
        assert resp.status == 400
        assert resp.content_type == "text/plain"
