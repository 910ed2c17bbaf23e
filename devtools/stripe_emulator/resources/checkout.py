"""Checkout Sessions (mode `payment`): create, retrieve, list, line items, expire, complete."""

from __future__ import annotations

import copy

from devtools.stripe_emulator import payments
from devtools.stripe_emulator.cards import MAGIC_PAYMENT_METHODS
from devtools.stripe_emulator.context import ApiCall, Route, StripeObject, internal
from devtools.stripe_emulator.errors import StripeError, invalid_request, missing_param
from devtools.stripe_emulator.events import changed, emit
from devtools.stripe_emulator.expand import INCLUDES
from devtools.stripe_emulator.forms import (
    Params,
    get_dict,
    get_int,
    get_list,
    get_str,
    merge_metadata,
)
from devtools.stripe_emulator.pagination import filter_equal, filter_range, list_object
from devtools.stripe_emulator.resources import intent_params, payment_intents, payment_methods
from devtools.stripe_emulator.state import EmulatorState
from devtools.stripe_emulator.store import new_id, now

_DAY = 24 * 3600


def _line_item(raw: object, index: int) -> StripeObject:
    if not isinstance(raw, dict):
        raise invalid_request("Invalid line_items", param="line_items")
    if raw.get("price"):
        raise StripeError(
            404, f"No such price: '{raw['price']}' (the emulator supports price_data only)",
            param=f"line_items[{index}][price]", code="resource_missing",
        )  # fmt: skip
    price = get_dict(raw, "price_data")
    if not price:
        raise missing_param(f"line_items[{index}][price_data]")
    unit = get_int(price, "unit_amount", required=True) or 0
    quantity = get_int(raw, "quantity") or 1
    name = get_str(get_dict(price, "product_data"), "name") or "Item"
    currency = (get_str(price, "currency", required=True) or "").lower()
    return {
        "id": new_id("li"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": unit * quantity,
        "amount_tax": 0,
        "amount_total": unit * quantity,
        "currency": currency,
        "description": name,
        "price": {
            "object": "price",
            "currency": currency,
            "unit_amount": unit,
            "product_data": {"name": name},
        },
        "quantity": quantity,
    }


def create(call: ApiCall) -> StripeObject:
    mode = get_str(call.params, "mode", required=True)
    if mode != "payment":
        raise invalid_request(
            "The emulator supports Checkout in `payment` mode only.", param="mode"
        )
    items = [_line_item(raw, i) for i, raw in enumerate(get_list(call.params, "line_items"))]
    if not items:
        raise missing_param("line_items")
    currencies = {item["currency"] for item in items}
    if len(currencies) != 1:
        raise invalid_request("All line items must use the same currency.", param="line_items")
    intent_data = get_dict(call.params, "payment_intent_data")
    currency = currencies.pop()
    intent_params.connect_fields(call, intent_data, "payment_intent_data[", currency)
    intent_params.capture_method(intent_data)
    total = sum(item["amount_total"] for item in items)
    session = _session(call, currency, total)
    call.state.store.add(session, call.account)
    call.state.private[session["id"]] = {"line_items": items, "payment_intent_data": intent_data}
    return session


def _session(call: ApiCall, currency: str, total: int) -> StripeObject:
    session_id = new_id("cs_test", 58)
    created = now()
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": total,
        "amount_total": total,
        "cancel_url": get_str(call.params, "cancel_url"),
        "client_reference_id": get_str(call.params, "client_reference_id"),
        "created": created,
        "currency": currency,
        "customer": intent_params.customer(call, call.params),
        "customer_details": None,
        "customer_email": get_str(call.params, "customer_email"),
        "expires_at": get_int(call.params, "expires_at") or created + _DAY,
        "livemode": False,
        "metadata": merge_metadata({}, call.params),
        "mode": "payment",
        "payment_intent": None,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "success_url": get_str(call.params, "success_url"),
        "url": f"{call.base_url}/_emulator/checkout/sessions/{session_id}/pay",
    }


def complete(state: EmulatorState, session: StripeObject, method_id: str) -> StripeObject:
    """The buyer pays on the hosted page: a PaymentIntent succeeds, then the session completes."""
    if session["status"] != "open":
        raise invalid_request(f"This Checkout Session is {session['status']}, not open.")
    ctx = internal(state.store.owner.get(session["id"]))
    data: Params = state.private.get(session["id"], {}).get("payment_intent_data", {})
    fields: StripeObject = {
        "amount": session["amount_total"],
        "currency": session["currency"],
        "capture_method": intent_params.capture_method(data),
        "customer": session["customer"],
        "description": get_str(data, "description"),
        "metadata": dict(get_dict(data, "metadata")),
        "receipt_email": session["customer_email"],
        "transfer_group": get_str(data, "transfer_group"),
        "application_fee_amount": get_int(data, "application_fee_amount"),
        "transfer_data": _transfer_data(data),
    }
    intent = payment_intents.new_intent(state, ctx, fields)
    number = MAGIC_PAYMENT_METHODS.get(method_id, MAGIC_PAYMENT_METHODS["pm_card_visa"])
    method = payment_methods.new_card_method(state, ctx.account, number, {}, {})
    intent.update(payment_method=method["id"], status="requires_confirmation")
    emit(state, ctx, "payment_intent.created", intent)
    payments.succeed(state, ctx, intent, method)
    email = session["customer_email"] or "buyer@example.com"
    previous = changed(
        session,
        status="complete",
        payment_status="paid" if intent["status"] == "succeeded" else "unpaid",
        payment_intent=intent["id"],
        customer_details={"email": email, "name": None, "phone": None, "address": None},
    )
    emit(state, ctx, "checkout.session.completed", session, previous=previous)
    return session


def _transfer_data(data: Params) -> StripeObject | None:
    raw = get_dict(data, "transfer_data")
    if not raw:
        return None
    return {"destination": raw.get("destination"), "amount": get_int(raw, "amount")}


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get(
        "checkout.session", call.path_id(), call.account, label="checkout.session"
    )


def expire(call: ApiCall) -> StripeObject:
    session = retrieve(call)
    if session["status"] != "open":
        raise invalid_request(
            f"Only open sessions can be expired; this one is {session['status']}."
        )
    previous = changed(session, status="expired")
    emit(call.state, call.ctx, "checkout.session.expired", session, previous=previous)
    return session


def line_items_of(state: EmulatorState, session: StripeObject) -> StripeObject:
    items = copy.deepcopy(state.private.get(session["id"], {}).get("line_items", []))
    url = f"/v1/checkout/sessions/{session['id']}/line_items"
    return {"object": "list", "data": items, "has_more": False, "url": url}


def list_line_items(call: ApiCall) -> StripeObject:
    items = line_items_of(call.state, retrieve(call))["data"]
    return list_object(items, call.params, call.url)


def list_all(call: ApiCall) -> StripeObject:
    items = call.state.store.all("checkout.session", call.account)
    items = filter_equal(items, call.params, "payment_intent", "customer", "status")
    return list_object(filter_range(items, call.params, "created"), call.params, call.url)


INCLUDES[("checkout.session", "line_items")] = line_items_of

ROUTES: list[Route] = [
    ("POST", "/v1/checkout/sessions", create),
    ("GET", "/v1/checkout/sessions", list_all),
    ("GET", "/v1/checkout/sessions/{id}", retrieve),
    ("POST", "/v1/checkout/sessions/{id}/expire", expire),
    ("GET", "/v1/checkout/sessions/{id}/line_items", list_line_items),
]
