"""What the API's POST endpoints accept, and the Idempotency-Key rule they share.

Each body is a pydantic model that refuses unknown fields, so that a misspelled option is an
error and not silently ignored. A body is read and validated before the Idempotency-Key is
claimed: a refused request changes nothing (no Stripe call, no claim kept), and the same key
may be used again with a corrected body.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import pydantic
from aiohttp import web
from pydantic import BaseModel, ConfigDict, HttpUrl

from libs.common.http import ApiError
from services.orders.adapters import postgres

BODY: web.RequestKey[BaseModel] = web.RequestKey("orders_body", BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PaymentIntentRequest(_Body):
    """`POST /orders/{id}/payment-intent`: no options yet; the order decides the amount,
    currency, customer and capture method. `{}` or no body."""


class CheckoutSessionRequest(_Body):
    """`POST /orders/{id}/checkout-session`: where Checkout sends the buyer afterwards;
    by default the order's page under `ORDERS_PUBLIC_URL`."""

    success_url: HttpUrl | None = None
    cancel_url: HttpUrl | None = None


def parse_body(raw: bytes, model: type[BaseModel]) -> BaseModel:
    """The body as `model`; 400 `invalid_json` or `invalid_request` naming the field."""
    if not raw.strip():
        raw = b"{}"
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from exc
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(body)"
        raise ApiError(
            400, "invalid_request", f"{field}: {first['msg']}", {"field": field}
        ) from exc


Handler = Callable[[web.Request], Awaitable[web.Response]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Claims:
    """Where the claims live, how long before a stale one is taken over, and the error
    middleware whose JSON answer is what gets stored."""

    pool: asyncpg.Pool
    takeover_s: float
    errors: Middleware


def idempotent(
    scope: str, model: type[BaseModel], handler: Handler, claims_of: Callable[[web.Request], Claims]
) -> Handler:
    """Same key and body: the first answer again. Same key, other body: 409
    `idempotency_conflict`; the first still running: 409 `request_in_progress`; no key: 400.
    The validated body is `request[BODY]`."""

    async def wrapped(request: web.Request) -> web.Response:
        claims = claims_of(request)
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 255:
            raise ApiError(400, "idempotency_key_required", "send an Idempotency-Key header")
        raw = await request.read()
        request[BODY] = parse_body(raw, model)
        fingerprint = hashlib.sha256(
            request.method.encode() + b" " + request.path.encode() + b"\n" + raw
        ).hexdigest()
        try:
            replay = await postgres.claim_key(
                claims.pool, scope, key, fingerprint, claims.takeover_s
            )
        except postgres.IdempotencyConflict as exc:
            raise ApiError(409, "idempotency_conflict", str(exc)) from exc
        except postgres.RequestInProgress as exc:
            raise ApiError(409, "request_in_progress", str(exc)) from exc
        if replay is not None:
            return web.json_response(
                replay.body, status=replay.status_code, headers={"Idempotent-Replayed": "true"}
            )
        return await _answer(request, claims, scope, key, handler)

    return wrapped


async def _answer(
    request: web.Request, claims: Claims, scope: str, key: str, handler: Handler
) -> web.Response:
    """Run the handler; keep its answer unless it is one the client may retry (5xx)."""
    pool = claims.pool
    try:
        response = await claims.errors(request, handler)
    except BaseException:
        await postgres.release_key(pool, scope, key)
        raise
    assert isinstance(response, web.Response)
    if response.status >= 500:
        await postgres.release_key(pool, scope, key)
    else:
        body = json.loads(response.text or "null")
        await postgres.complete_key(pool, scope, key, response.status, body)
    return response
