"""PaymentIntents: create, retrieve, update, confirm, capture, cancel, list, search."""

from __future__ import annotations

import secrets

from devtools.stripe_emulator import payments
from devtools.stripe_emulator.context import ApiCall, RequestContext, Route, StripeObject
from devtools.stripe_emulator.errors import StripeError, invalid_request, unexpected_state
from devtools.stripe_emulator.events import emit
from devtools.stripe_emulator.forms import get_bool, get_dict, get_int, get_str, merge_metadata
from devtools.stripe_emulator.pagination import filter_equal, filter_range, list_object
from devtools.stripe_emulator.resources import intent_params, payment_methods
from devtools.stripe_emulator.search import search_object
from devtools.stripe_emulator.state import EmulatorState
from devtools.stripe_emulator.store import new_id, now

_CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
_CANCELABLE = (*_CONFIRMABLE, "requires_capture", "processing")


def new_intent(state: EmulatorState, ctx: RequestContext, fields: StripeObject) -> StripeObject:
    intent_id = new_id("pi")
    intent: StripeObject = {
        "id": intent_id,
        "object": "payment_intent",
        "amount_capturable": 0,
        "amount_received": 0,
        "canceled_at": None,
        "cancellation_reason": None,
        "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
        "confirmation_method": "automatic",
        "created": now(),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "next_action": None,
        "payment_method": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"],
        "processing": None,
        "status": "requires_payment_method",
        **fields,
    }
    return state.store.add(intent, ctx.account)


def create(call: ApiCall) -> StripeObject:
    intent = new_intent(call.state, call.ctx, intent_params.validated(call))
    _set_payment_method(call, intent)
    emit(call.state, call.ctx, "payment_intent.created", intent)
    if get_bool(call.params, "confirm"):
        _confirm(call, intent)
    return intent


def _set_payment_method(call: ApiCall, intent: StripeObject) -> None:
    method_id = get_str(call.params, "payment_method")
    data = get_dict(call.params, "payment_method_data")
    if method_id:
        method = payment_methods.resolve(call, method_id)
    elif data:
        method = payment_methods.from_card_params(call, data, "payment_method_data")
    else:
        return
    intent["payment_method"] = method["id"]
    if intent["status"] == "requires_payment_method":
        intent["status"] = "requires_confirmation"


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get("payment_intent", call.path_id(), call.account)


def update(call: ApiCall) -> StripeObject:
    intent = retrieve(call)
    if "metadata" in call.params:
        intent["metadata"] = merge_metadata(intent["metadata"], call.params)
    fields = intent_params.updatable(call)
    if fields and intent["status"] not in _CONFIRMABLE:
        raise unexpected_state(
            f"You cannot update this PaymentIntent because it has a status of {intent['status']}."
        )
    intent.update(fields)
    _set_payment_method(call, intent)
    return intent


def confirm(call: ApiCall) -> StripeObject:
    intent = retrieve(call)
    if intent["status"] not in _CONFIRMABLE:
        raise unexpected_state(
            f"You cannot confirm this PaymentIntent because it has a status of {intent['status']}."
        )
    _set_payment_method(call, intent)
    if "capture_method" in call.params:
        intent["capture_method"] = intent_params.capture_method(call.params)
    return _confirm(call, intent)


def _confirm(call: ApiCall, intent: StripeObject) -> StripeObject:
    if not intent["payment_method"]:
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. "
            "Update the PaymentIntent with a payment method and then confirm it again."
        )
    return_url = get_str(call.params, "return_url")
    payments.attempt(call.state, call.ctx, intent, call.base_url, return_url)
    return intent


def capture(call: ApiCall) -> StripeObject:
    intent = retrieve(call)
    if intent["status"] != "requires_capture":
        raise unexpected_state(
            "This PaymentIntent could not be captured because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may "
            "be captured: requires_capture."
        )
    amount = get_int(call.params, "amount_to_capture") or intent["amount_capturable"]
    if not 0 < amount <= intent["amount_capturable"]:
        raise StripeError(
            400,
            "The amount to capture must be a positive integer no larger than the amount "
            f"capturable ({intent['amount_capturable']}).",
            param="amount_to_capture",
            code="amount_too_large",
        )
    fee = get_int(call.params, "application_fee_amount")
    if fee is not None:
        intent["application_fee_amount"] = fee
    if "metadata" in call.params:
        intent["metadata"] = merge_metadata(intent["metadata"], call.params)
    return payments.capture(call.state, call.ctx, intent, amount)


def cancel(call: ApiCall) -> StripeObject:
    intent = retrieve(call)
    if intent["status"] not in _CANCELABLE:
        raise unexpected_state(
            "You cannot cancel this PaymentIntent because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may be "
            f"canceled: {', '.join(_CANCELABLE)}."
        )
    reason = get_str(call.params, "cancellation_reason")
    if reason not in (None, "duplicate", "fraudulent", "requested_by_customer", "abandoned"):
        raise invalid_request(f"Invalid cancellation_reason: {reason}", param="cancellation_reason")
    charge = call.state.store.find(intent["latest_charge"] or "")
    if intent["status"] == "requires_capture" and charge is not None:
        charge.update(refunded=True, amount_refunded=charge["amount"])
    intent.update(
        status="canceled",
        canceled_at=now(),
        cancellation_reason=reason,
        amount_capturable=0,
        next_action=None,
    )
    emit(call.state, call.ctx, "payment_intent.canceled", intent)
    return intent


def list_all(call: ApiCall) -> StripeObject:
    items = call.state.store.all("payment_intent", call.account)
    items = filter_equal(items, call.params, "customer")
    return list_object(filter_range(items, call.params, "created"), call.params, call.url)


def search(call: ApiCall) -> StripeObject:
    items = call.state.store.all("payment_intent", call.account)
    return search_object(items, call.params, call.url)


ROUTES: list[Route] = [
    ("POST", "/v1/payment_intents", create),
    ("GET", "/v1/payment_intents", list_all),
    ("GET", "/v1/payment_intents/search", search),
    ("GET", "/v1/payment_intents/{id}", retrieve),
    ("POST", "/v1/payment_intents/{id}", update),
    ("POST", "/v1/payment_intents/{id}/confirm", confirm),
    ("POST", "/v1/payment_intents/{id}/capture", capture),
    ("POST", "/v1/payment_intents/{id}/cancel", cancel),
]
