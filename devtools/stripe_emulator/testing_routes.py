"""Test-only endpoints under `/_emulator/`: the parts of Stripe a test plays itself.

They stand for what happens outside the API on real Stripe (the buyer's 3DS challenge, the hosted
Checkout page, a seller's onboarding, the card network's disputes, the bank's payouts), so events
they cause carry `request: {"id": null}`. No API key is needed.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devtools.stripe_emulator import payments
from devtools.stripe_emulator.api import STATE
from devtools.stripe_emulator.context import StripeObject, internal
from devtools.stripe_emulator.errors import StripeError, invalid_request, resource_missing
from devtools.stripe_emulator.resources import accounts, checkout, disputes, payouts
from devtools.stripe_emulator.state import EmulatorState

Body = dict[str, Any]
Action = Callable[[EmulatorState, str, Body], Any]


def find(state: EmulatorState, kind: str, object_id: str) -> StripeObject:
    obj = state.store.find(object_id)
    if obj is None or obj.get("object") != kind:
        raise resource_missing(kind.replace("_", " "), object_id)
    return obj


def json_route(action: Action) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        try:
            text = await request.text()
            body = json.loads(text) if text.strip() else {}
            if not isinstance(body, dict):
                raise invalid_request("The request body must be a JSON object.")
            result = action(state, request.match_info.get("id", ""), body)
        except json.JSONDecodeError as exc:
            return web.json_response(invalid_request(f"Invalid JSON: {exc}").body(), status=400)
        except StripeError as err:
            return web.json_response(err.body(), status=err.status)
        return web.json_response(result)

    return handle


def health(state: EmulatorState, _: str, __: Body) -> Body:
    return {"status": "ok"}


def reset(state: EmulatorState, _: str, __: Body) -> Body:
    state.reset()
    return {"status": "reset"}


def summary(state: EmulatorState, _: str, __: Body) -> Body:
    return state.summary()


def set_faults(state: EmulatorState, _: str, body: Body) -> Body:
    state.faults.configure(body)
    return state.faults.summary()


def resend(state: EmulatorState, event_id: str, body: Body) -> Body:
    event = find(state, "event", event_id)
    endpoint = body.get("endpoint")
    if endpoint is not None:
        find(state, "webhook_endpoint", str(endpoint))
    records = state.dispatcher.resend(event, str(endpoint) if endpoint else None)
    return {"event": event_id, "deliveries": [r.as_json() for r in records]}


def deliveries(state: EmulatorState, event_id: str, _: Body) -> Body:
    find(state, "event", event_id)
    records = state.dispatcher.deliveries.get(event_id, {}).values()
    return {"event": event_id, "deliveries": [r.as_json() for r in records]}


def authenticate(state: EmulatorState, intent_id: str, body: Body) -> StripeObject:
    intent = find(state, "payment_intent", intent_id)
    if intent["status"] != "requires_action":
        raise invalid_request(
            f"PaymentIntent {intent_id} is {intent['status']}, not requires_action."
        )
    outcome = body.get("outcome", "succeed")
    ctx = internal(state.store.owner.get(intent_id))
    if outcome == "succeed":
        method = state.store.find(intent["payment_method"] or "") or {}
        payments.succeed(state, ctx, intent, method)
    elif outcome == "fail":
        payments.fail_authentication(state, ctx, intent)
    else:
        raise invalid_request("outcome must be 'succeed' or 'fail'", param="outcome")
    return intent


def complete_checkout(state: EmulatorState, session_id: str, body: Body) -> StripeObject:
    session = find(state, "checkout.session", session_id)
    return checkout.complete(state, session, str(body.get("payment_method") or "pm_card_visa"))


def complete_onboarding(state: EmulatorState, account_id: str, _: Body) -> StripeObject:
    return accounts.complete_onboarding(state, find(state, "account", account_id))


def open_dispute(state: EmulatorState, charge_id: str, body: Body) -> StripeObject:
    charge = find(state, "charge", charge_id)
    return disputes.open_dispute(state, charge, str(body.get("reason") or "fraudulent"))


def close_dispute(state: EmulatorState, dispute_id: str, body: Body) -> StripeObject:
    return disputes.close_dispute(
        state, find(state, "dispute", dispute_id), str(body.get("outcome"))
    )


def run_payouts(state: EmulatorState, _: str, body: Body) -> Body:
    account = body.get("account")
    if account is not None:
        find(state, "account", str(account))
    created = payouts.run_schedule(state, str(account) if account else None)
    return {"object": "list", "data": created}


def pay_payout(state: EmulatorState, payout_id: str, body: Body) -> StripeObject:
    outcome = str(body.get("outcome") or "paid")
    if outcome not in ("paid", "failed"):
        raise invalid_request("outcome must be 'paid' or 'failed'", param="outcome")
    return payouts.settle(state, find(state, "payout", payout_id), outcome)


JSON_ROUTES: list[tuple[str, str, Action]] = [
    ("GET", "/_emulator/health", health),
    ("POST", "/_emulator/reset", reset),
    ("GET", "/_emulator/state", summary),
    ("POST", "/_emulator/faults", set_faults),
    ("POST", "/_emulator/events/{id}/resend", resend),
    ("GET", "/_emulator/events/{id}/deliveries", deliveries),
    ("POST", "/_emulator/payment_intents/{id}/authenticate", authenticate),
    ("POST", "/_emulator/checkout/sessions/{id}/complete", complete_checkout),
    ("POST", "/_emulator/accounts/{id}/complete_onboarding", complete_onboarding),
    ("POST", "/_emulator/charges/{id}/dispute", open_dispute),
    ("POST", "/_emulator/disputes/{id}/close", close_dispute),
    ("POST", "/_emulator/payouts/run", run_payouts),
    ("POST", "/_emulator/payouts/{id}/pay", pay_payout),
]
