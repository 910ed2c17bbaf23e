"""One shape for every HTTP error of every service: `{"error": {"code", "message"}}`.

Handlers raise `ApiError` for refusals a client can act on. The middleware turns those, the
errors aiohttp raises itself (no such route 404, wrong method 405, body over the limit 413)
and any unexpected exception (500, logged with its traceback, none in the body) into that
JSON. A service may pass `translate` to map its own exception types (e.g. Stripe's) to an
`ApiError`.

Not covered, because aiohttp answers before any application code runs: a request line or
header over the parser's limits (8190 bytes by default) or otherwise malformed is refused by
aiohttp's protocol handler with `400` and a `text/plain` body. Making that JSON would mean
subclassing aiohttp's private request handler; clients should treat any 4xx without a JSON
body as "malformed request".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web

log = logging.getLogger(__name__)
Next = Callable[[web.Request], Awaitable[web.StreamResponse]]
Translate = Callable[[Exception], "ApiError | None"]

_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """A request we refuse; `code` is stable for clients and metrics."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    error: dict[str, object] = {"code": code, "message": message, **(details or {})}
    return web.json_response({"error": error}, status=status, headers=headers)


def _from_http(exc: web.HTTPException) -> web.Response:
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    code = _CODES.get(exc.status, HTTPStatus(exc.status).phrase.lower().replace(" ", "_"))
    return error_response(exc.status, code, exc.reason, headers=headers)


def json_errors(translate: Translate | None = None) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware; put it innermost-but-one so that others see the JSON response."""

    @web.middleware
    async def middleware(request: web.Request, handler: Next) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message, details=exc.details)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _from_http(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            mapped = translate(exc) if translate is not None else None
            if mapped is not None:
                return error_response(mapped.status, mapped.code, mapped.message)
            log.exception("unexpected error on %s %s", request.method, request.path)
            return error_response(500, "internal_error", "the server failed; try again later")

    return middleware
