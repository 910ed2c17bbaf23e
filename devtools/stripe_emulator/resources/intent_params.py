"""Validation of the PaymentIntent parameters shared by create, update and Checkout."""

from __future__ import annotations

from devtools.stripe_emulator.context import ApiCall, StripeObject
from devtools.stripe_emulator.errors import StripeError, invalid_request, missing_param
from devtools.stripe_emulator.forms import Params, get_dict, get_int, get_str, merge_metadata
from devtools.stripe_emulator.money import is_zero_decimal

_CAPTURE_METHODS = ("automatic", "automatic_async", "manual")
_TEXT_FIELDS = ("description", "receipt_email", "statement_descriptor", "transfer_group")


def amount(params: Params, name: str = "amount", currency: str | None = None) -> int:
    value = get_int(params, name, required=True)
    assert value is not None
    minimum = 50
    if value < minimum:
        unit = currency or "usd"
        shown = f"{minimum}" if is_zero_decimal(unit) else f"{minimum // 100}.{minimum % 100:02d}"
        raise StripeError(
            400,
            f"Amount must be at least {shown} {unit}",
            param=name,
            code="amount_too_small",
        )
    return value


def currency(params: Params) -> str:
    value = get_str(params, "currency", required=True) or ""
    if len(value) != 3 or not value.isalpha():
        raise invalid_request(f"Invalid currency: {value}", param="currency")
    return value.lower()


def capture_method(params: Params) -> str:
    value = get_str(params, "capture_method") or "automatic_async"
    if value not in _CAPTURE_METHODS:
        raise invalid_request(f"Invalid capture_method: {value}", param="capture_method")
    return value


def validated(call: ApiCall) -> StripeObject:
    """All creation fields of a PaymentIntent, checked against the caller's objects."""
    params = call.params
    cur = currency(params)
    fields: StripeObject = {
        "amount": amount(params, currency=cur),
        "currency": cur,
        "capture_method": capture_method(params),
        "metadata": merge_metadata({}, params),
        "on_behalf_of": get_str(params, "on_behalf_of"),
        "setup_future_usage": get_str(params, "setup_future_usage"),
        "automatic_payment_methods": _automatic_methods(params),
        **{field: get_str(params, field) for field in _TEXT_FIELDS},
        **connect_fields(call, params, "", cur),
    }
    fields["customer"] = customer(call, params)
    fee = fields["application_fee_amount"]
    if fee is not None and fee > fields["amount"]:
        raise invalid_request(
            "The application fee amount cannot exceed the amount of the payment.",
            param="application_fee_amount",
        )
    return fields


def customer(call: ApiCall, params: Params) -> str | None:
    customer_id = get_str(params, "customer")
    if customer_id:
        call.state.store.get("customer", customer_id, call.account, param="customer")
    return customer_id


def connect_fields(call: ApiCall, params: Params, prefix: str, cur: str) -> StripeObject:
    """`application_fee_amount` and `transfer_data`: destination or direct charges only."""
    fee = get_int(params, "application_fee_amount")
    data = get_dict(params, "transfer_data")
    transfer_data = None
    if data:
        destination = get_str(data, "destination")
        if not destination:
            raise missing_param(f"{prefix}transfer_data[destination]")
        if call.state.store.owned("account", destination, None) is None:
            raise StripeError(
                400,
                f"No such destination: '{destination}'",
                param=f"{prefix}transfer_data[destination]",
                code="resource_missing",
            )
        transfer_data = {"destination": destination, "amount": get_int(data, "amount")}
    if fee is not None and transfer_data is None and call.account is None:
        raise invalid_request(
            "Can only apply an application_fee_amount when the PaymentIntent is attempting a "
            "direct payment (using an OAuth key or Stripe-Account header) or destination payment "
            "(using `transfer_data[destination]`).",
            param=f"{prefix}application_fee_amount",
        )
    if fee is not None and fee < 0:
        raise invalid_request(
            "application_fee_amount must be positive", param="application_fee_amount"
        )
    return {"application_fee_amount": fee, "transfer_data": transfer_data}


def _automatic_methods(params: Params) -> StripeObject | None:
    data = get_dict(params, "automatic_payment_methods")
    if not data:
        return None
    return {
        "allow_redirects": data.get("allow_redirects", "always"),
        "enabled": data.get("enabled") == "true",
    }


def updatable(call: ApiCall) -> StripeObject:
    params = call.params
    fields: StripeObject = {f: get_str(params, f) for f in _TEXT_FIELDS if f in params}
    if "currency" in params:
        fields["currency"] = currency(params)
    if "amount" in params:
        fields["amount"] = amount(params, currency=fields.get("currency"))
    if "customer" in params:
        fields["customer"] = customer(call, params)
    if "capture_method" in params:
        fields["capture_method"] = capture_method(params)
    if "application_fee_amount" in params:
        fields["application_fee_amount"] = get_int(params, "application_fee_amount")
    return fields
