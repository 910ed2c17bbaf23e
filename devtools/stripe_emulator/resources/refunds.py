"""Refunds: full or partial, several per charge, never more than was captured."""

from __future__ import annotations

from devtools.stripe_emulator.context import ApiCall, Route, StripeObject
from devtools.stripe_emulator.errors import StripeError, invalid_request
from devtools.stripe_emulator.events import changed, emit
from devtools.stripe_emulator.forms import get_bool, get_int, get_str, merge_metadata
from devtools.stripe_emulator.ledger import add_transaction
from devtools.stripe_emulator.money import round_half_up_div
from devtools.stripe_emulator.pagination import filter_equal, filter_range, list_object
from devtools.stripe_emulator.resources import transfers
from devtools.stripe_emulator.store import new_id, now

_REASONS = (None, "duplicate", "fraudulent", "requested_by_customer")


def _charge_to_refund(call: ApiCall) -> StripeObject:
    store, account = call.state.store, call.account
    charge_id = get_str(call.params, "charge")
    intent_id = get_str(call.params, "payment_intent")
    if charge_id:
        return store.get("charge", charge_id, account, param="charge")
    if not intent_id:
        raise invalid_request(
            "One of the following params should be provided for this request: "
            "payment_intent or charge."
        )
    intent = store.get("payment_intent", intent_id, account, param="payment_intent")
    charge = store.owned("charge", intent.get("latest_charge") or "", account)
    if charge is None or intent["status"] != "succeeded":
        raise invalid_request(
            f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
            param="payment_intent",
        )
    return charge


def _refundable(call: ApiCall, charge: StripeObject) -> int:
    if charge["status"] != "succeeded" or not charge["captured"]:
        raise invalid_request(
            f"Charge {charge['id']} cannot be refunded: it is not captured.",
            code="charge_not_refundable",
        )
    if charge["disputed"]:
        raise invalid_request(
            f"Charge {charge['id']} has been charged back; cannot issue a refund.",
            code="charge_disputed",
        )
    remaining: int = charge["amount_captured"] - charge["amount_refunded"]
    if remaining <= 0:
        raise invalid_request(
            f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
        )
    return remaining


def create(call: ApiCall) -> StripeObject:
    charge = _charge_to_refund(call)
    remaining = _refundable(call, charge)
    amount = get_int(call.params, "amount")
    amount = remaining if amount is None else amount
    if amount <= 0 or amount > remaining:
        raise StripeError(
            400,
            f"Refund amount ({amount} {charge['currency']}) is greater than unrefunded amount on "
            f"charge ({remaining} {charge['currency']})",
            param="amount",
            code="amount_too_large",
        )
    reason = get_str(call.params, "reason")
    if reason not in _REASONS:
        raise invalid_request(f"Invalid reason: {reason}", param="reason")
    refund = _book(call, charge, amount, reason)
    previous = changed(
        charge,
        amount_refunded=charge["amount_refunded"] + amount,
        refunded=charge["amount_refunded"] + amount == charge["amount_captured"],
    )
    if get_bool(call.params, "reverse_transfer") and charge["transfer"]:
        refund["transfer_reversal"] = _reverse(call, charge, amount)
    emit(call.state, call.ctx, "charge.refunded", charge, previous=previous)
    emit(call.state, call.ctx, "refund.created", refund)
    return refund


def _book(call: ApiCall, charge: StripeObject, amount: int, reason: str | None) -> StripeObject:
    refund_id = new_id("re")
    transaction = add_transaction(
        call.state, call.account, amount=-amount, currency=charge["currency"], kind="refund",
        source=refund_id,
    )  # fmt: skip
    refund: StripeObject = {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": transaction["id"],
        "charge": charge["id"],
        "created": now(),
        "currency": charge["currency"],
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": merge_metadata({}, call.params),
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    return call.state.store.add(refund, call.account)


def _reverse(call: ApiCall, charge: StripeObject, refunded: int) -> str | None:
    transfer = call.state.store.find(charge["transfer"])
    if transfer is None:
        return None
    share = round_half_up_div(transfer["amount"] * refunded, charge["amount_captured"])
    share = min(share, transfer["amount"] - transfer["amount_reversed"])
    if share <= 0:
        return None
    reversal = transfers.reverse(call.state, call.ctx, transfer, share, {})
    return str(reversal["id"])


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get("refund", call.path_id(), call.account)


def update(call: ApiCall) -> StripeObject:
    refund = retrieve(call)
    previous = changed(refund, metadata=merge_metadata(refund["metadata"], call.params))
    if previous:
        emit(call.state, call.ctx, "refund.updated", refund, previous=previous)
    return refund


def list_all(call: ApiCall) -> StripeObject:
    items = call.state.store.all("refund", call.account)
    items = filter_equal(items, call.params, "charge", "payment_intent")
    return list_object(filter_range(items, call.params, "created"), call.params, call.url)


ROUTES: list[Route] = [
    ("POST", "/v1/refunds", create),
    ("GET", "/v1/refunds", list_all),
    ("GET", "/v1/refunds/{id}", retrieve),
    ("POST", "/v1/refunds/{id}", update),
]
