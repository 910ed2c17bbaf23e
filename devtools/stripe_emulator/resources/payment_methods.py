"""Card payment methods from test numbers, tokens and Stripe's `pm_card_*` test ids."""

from __future__ import annotations

from devtools.stripe_emulator.cards import MAGIC_PAYMENT_METHODS, TOKENS, card_details, luhn_valid
from devtools.stripe_emulator.context import ApiCall, Route, StripeObject
from devtools.stripe_emulator.errors import StripeError, invalid_request, missing_param
from devtools.stripe_emulator.events import emit
from devtools.stripe_emulator.forms import Params, get_dict, get_int, get_str, merge_metadata
from devtools.stripe_emulator.pagination import filter_equal, list_object
from devtools.stripe_emulator.state import EmulatorState
from devtools.stripe_emulator.store import new_id, now


def new_card_method(
    state: EmulatorState, account: str | None, number: str, card: Params, data: Params
) -> StripeObject:
    number = number.replace(" ", "")
    if not luhn_valid(number):
        raise StripeError(
            402,
            "Your card number is incorrect.",
            error_type="card_error",
            code="incorrect_number",
            param="number",
        )
    method: StripeObject = {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "card": card_details(
            number, get_int(card, "exp_month") or 12, get_int(card, "exp_year") or 2034
        ),
        "created": now(),
        "customer": None,
        "livemode": False,
        "metadata": merge_metadata({}, data),
        "type": "card",
    }
    billing = get_dict(data, "billing_details")
    method["billing_details"].update({k: v for k, v in billing.items() if k != "address"})
    state.store.add(method, account)
    state.card_numbers[method["id"]] = number
    return method


def from_card_params(call: ApiCall, data: Params, param: str) -> StripeObject:
    """A payment method from `type=card&card[number]=…` (or `card[token]=tok_visa`)."""
    card_type = get_str(data, "type") or "card"
    if card_type != "card":
        raise invalid_request(
            f"The payment method type `{card_type}` is not supported here.", param=f"{param}[type]"
        )
    card = get_dict(data, "card")
    token = get_str(card, "token")
    number = TOKENS.get(token or "") if token else get_str(card, "number")
    if number is None:
        raise missing_param(f"{param}[card][number]" if param else "card[number]")
    return new_card_method(call.state, call.account, number, card, data)


def resolve(call: ApiCall, value: str, param: str = "payment_method") -> StripeObject:
    """An existing payment method, or a fresh one for a `pm_card_*` test id (as Stripe does)."""
    magic = MAGIC_PAYMENT_METHODS.get(value)
    if magic is not None:
        return new_card_method(call.state, call.account, magic, {}, {})
    found = call.state.store.owned("payment_method", value, call.account)
    if found is None:
        raise StripeError(
            404, f"No such PaymentMethod: '{value}'", param=param, code="resource_missing"
        )
    return found


def create(call: ApiCall) -> StripeObject:
    return from_card_params(call, call.params, "")


def retrieve(call: ApiCall) -> StripeObject:
    return resolve(call, call.path_id(), "id")


def attach(call: ApiCall) -> StripeObject:
    method = retrieve(call)
    customer_id = get_str(call.params, "customer", required=True) or ""
    call.state.store.get("customer", customer_id, call.account, param="customer")
    method["customer"] = customer_id
    emit(call.state, call.ctx, "payment_method.attached", method)
    return method


def detach(call: ApiCall) -> StripeObject:
    method = retrieve(call)
    method["customer"] = None
    emit(call.state, call.ctx, "payment_method.detached", method)
    return method


def list_all(call: ApiCall) -> StripeObject:
    items = call.state.store.all("payment_method", call.account)
    customer = call.path.get("customer")
    params = {**call.params, "customer": customer} if customer else call.params
    if customer:
        call.state.store.get("customer", customer, call.account)
    return list_object(filter_equal(items, params, "customer", "type"), call.params, call.url)


ROUTES: list[Route] = [
    ("POST", "/v1/payment_methods", create),
    ("GET", "/v1/payment_methods", list_all),
    ("GET", "/v1/payment_methods/{id}", retrieve),
    ("POST", "/v1/payment_methods/{id}/attach", attach),
    ("POST", "/v1/payment_methods/{id}/detach", detach),
    ("GET", "/v1/customers/{customer}/payment_methods", list_all),
]
