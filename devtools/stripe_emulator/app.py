"""The aiohttp application: `/v1` Stripe API routes, `/_emulator` test routes, logging."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from devtools.stripe_emulator import browser_pages, testing_routes
from devtools.stripe_emulator.api import STATE, AiohttpHandler, api_handler, unknown_route
from devtools.stripe_emulator.config import EmulatorConfig
from devtools.stripe_emulator.context import Route
from devtools.stripe_emulator.resources import (
    accounts,
    application_fees,
    balance,
    charges,
    checkout,
    customers,
    disputes,
    events_api,
    payment_intents,
    payment_methods,
    payouts,
    refunds,
    transfers,
    webhook_endpoints,
)
from devtools.stripe_emulator.state import EmulatorState

log = logging.getLogger("stripe_emulator")

API_ROUTES: list[Route] = [
    *customers.ROUTES,
    *payment_methods.ROUTES,
    *payment_intents.ROUTES,
    *charges.ROUTES,
    *refunds.ROUTES,
    *disputes.ROUTES,
    *checkout.ROUTES,
    *accounts.ROUTES,
    *transfers.ROUTES,
    *payouts.ROUTES,
    *application_fees.ROUTES,
    *balance.ROUTES,
    *events_api.ROUTES,
    *webhook_endpoints.ROUTES,
]


@web.middleware
async def access_log(request: web.Request, handler: AiohttpHandler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        account = request.headers.get("Stripe-Account", "-")
        log.info(
            "%s %s %s %.1fms account=%s", request.method, request.path, status, elapsed_ms, account
        )


def create_app(config: EmulatorConfig | None = None) -> web.Application:
    """A fresh emulator; its state lives on the application (`app[STATE]`)."""
    app = web.Application(middlewares=[access_log])
    state = EmulatorState(config or EmulatorConfig())
    app[STATE] = state
    for method, path, handler in API_ROUTES:
        app.router.add_route(method, path, api_handler(handler))
    for method, path, action in testing_routes.JSON_ROUTES:
        app.router.add_route(method, path, testing_routes.json_route(action))
    browser_pages.add_routes(app)
    app.router.add_route("*", "/v1/{tail:.*}", unknown_route)

    async def stop_deliveries(_: web.Application) -> None:
        await state.dispatcher.stop()
        state.reset()

    app.on_cleanup.append(stop_deliveries)
    return app
