"""The `/v1` request pipeline: auth, `Stripe-Account`, api faults, idempotency, expand."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from devtools.stripe_emulator.context import ApiCall, Handler, RequestContext
from devtools.stripe_emulator.errors import (
    StripeError,
    account_invalid,
    api_error,
    authentication_required,
    invalid_api_key,
    not_found_route,
)
from devtools.stripe_emulator.expand import expand
from devtools.stripe_emulator.forms import Params, decode_form, expand_paths
from devtools.stripe_emulator.state import PLATFORM_ACCOUNT_ID, EmulatorState
from devtools.stripe_emulator.store import new_id

STATE: web.AppKey[EmulatorState] = web.AppKey("stripe_emulator_state", EmulatorState)
AiohttpHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_MUTATING = ("POST", "DELETE")


def api_key_of(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer":
        key = credentials.strip()
    elif scheme.lower() == "basic":
        key = base64.b64decode(credentials.strip()).decode(errors="replace").split(":")[0]
    else:
        raise authentication_required()
    if not key:
        raise authentication_required()
    if not key.startswith(("sk_test_", "rk_test_")):
        raise invalid_api_key(key)
    return key


def account_of(request: web.Request, state: EmulatorState, api_key: str) -> str | None:
    account = request.headers.get("Stripe-Account", "").strip()
    if not account or account == PLATFORM_ACCOUNT_ID:
        return None
    if state.store.owned("account", account, None) is None:
        raise account_invalid(api_key, account)
    return account


async def read_params(request: web.Request) -> Params:
    if request.method in ("GET", "DELETE") or not request.can_read_body:
        return decode_form(request.query_string)
    return decode_form(await request.text())


def json_response(status: int, body: str, headers: dict[str, str]) -> web.Response:
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


def api_handler(handler: Handler) -> AiohttpHandler:
    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        request_id = new_id("req", 14)
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": request.headers.get("Stripe-Version", state.config.api_version),
        }
        try:
            return await _run(request, state, handler, request_id, headers)
        except StripeError as err:
            return json_response(err.status, json.dumps(err.body(request_id)), headers)

    return handle


async def _run(
    request: web.Request,
    state: EmulatorState,
    handler: Handler,
    request_id: str,
    headers: dict[str, str],
) -> web.StreamResponse:
    api_key = api_key_of(request)
    account = account_of(request, state, api_key)
    params = await read_params(request)
    await _api_faults(state)
    key = request.headers.get("Idempotency-Key") if request.method in _MUTATING else None
    scope = (api_key, account, key) if key else None
    if scope is not None:
        stored = state.idempotency.lookup(scope, request.method, request.path, params)
        if stored is not None:
            headers.update({"Idempotent-Replayed": "true", "Idempotency-Key": scope[2]})
            return json_response(stored.status, stored.body, headers)
    ctx = RequestContext(account=account, request_id=request_id, idempotency_key=key)
    call = ApiCall(
        state, ctx, params, dict(request.match_info), request.path, str(request.url.origin())
    )
    status, body = _invoke(handler, call, request_id)
    if scope is not None:
        headers["Idempotency-Key"] = scope[2]
        state.idempotency.save(scope, request.method, request.path, params, status, body)
    return json_response(status, body, headers)


def _invoke(handler: Handler, call: ApiCall, request_id: str) -> tuple[int, str]:
    try:
        result = handler(call)
    except StripeError as err:
        return err.status, json.dumps(err.body(request_id))
    return 200, json.dumps(expand(call.state, result, expand_paths(call.params)))


async def _api_faults(state: EmulatorState) -> None:
    if state.faults.api.latency_ms:
        await asyncio.sleep(state.faults.api.latency_ms / 1000)
    if state.faults.take_api_failure():
        raise api_error(state.faults.api.status)


async def unknown_route(request: web.Request) -> web.StreamResponse:
    err = not_found_route(request.method, request.path)
    return json_response(404, json.dumps(err.body()), {})
