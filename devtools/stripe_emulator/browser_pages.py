"""Tiny HTML pages behind the URLs Stripe would host: 3DS challenge, Checkout, onboarding.

A person running the demo can click through them; tests use the JSON `/_emulator/...` routes.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from urllib.parse import urlencode

from aiohttp import web

from devtools.stripe_emulator import testing_routes
from devtools.stripe_emulator.api import STATE, AiohttpHandler
from devtools.stripe_emulator.errors import StripeError
from devtools.stripe_emulator.state import EmulatorState

# Performs the choice; may name where to send the browser (else the `return_url` query).
Action = Callable[[EmulatorState, str, str], str | None]


def _page(title: str, choices: list[tuple[str, str]]) -> web.Response:
    buttons = "".join(
        f'<button name="choice" value="{html.escape(value)}">{html.escape(label)}</button> '
        for value, label in choices
    )
    body = (
        f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
        f'<p>Stripe emulator</p><form method="post">{buttons}</form>'
    )
    return web.Response(text=body, content_type="text/html")


def _three_d_secure(state: EmulatorState, intent_id: str, choice: str) -> str | None:
    testing_routes.authenticate(state, intent_id, {"outcome": choice})
    return None


def _checkout(state: EmulatorState, session_id: str, choice: str) -> str | None:
    session = testing_routes.complete_checkout(state, session_id, {})
    success_url = session.get("success_url")
    if success_url is None:
        return None
    return str(success_url).replace("{CHECKOUT_SESSION_ID}", session_id)


def _onboarding(state: EmulatorState, account_id: str, choice: str) -> str | None:
    testing_routes.complete_onboarding(state, account_id, {})
    return None


def _route(
    title: str, choices: list[tuple[str, str]], action: Action
) -> tuple[AiohttpHandler, AiohttpHandler]:
    async def show(request: web.Request) -> web.StreamResponse:
        return _page(title, choices)

    async def submit(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        object_id = request.match_info["id"]
        try:
            target = action(request.app[STATE], object_id, str(form.get("choice", "")))
        except StripeError as err:
            return web.Response(status=err.status, text=err.message)
        return_url = target or request.query.get("return_url")
        if return_url:
            query = urlencode({"id": object_id, "result": form.get("choice", "")})
            separator = "&" if "?" in return_url else "?"
            raise web.HTTPFound(f"{return_url}{separator}{query}")
        return web.Response(text="Done. You can close this page.")

    return show, submit


def add_routes(app: web.Application) -> None:
    pages = [
        (
            "/_emulator/payment_intents/{id}/three_d_secure",
            _route(
                "3D Secure test challenge",
                [("succeed", "Complete"), ("fail", "Fail")],
                _three_d_secure,
            ),
        ),
        (
            "/_emulator/checkout/sessions/{id}/pay",
            _route("Checkout (test mode)", [("pay", "Pay with 4242 4242 4242 4242")], _checkout),
        ),
        (
            "/_emulator/accounts/{id}/onboarding",
            _route(
                "Connect onboarding (test mode)", [("complete", "Complete onboarding")], _onboarding
            ),
        ),
    ]
    for path, (show, submit) in pages:
        app.router.add_get(path, show)
        app.router.add_post(path, submit)
