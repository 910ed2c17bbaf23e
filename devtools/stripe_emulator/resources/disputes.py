"""Disputes: opened and closed by the emulator (the card network's side), evidence by the API."""

from __future__ import annotations

from devtools.stripe_emulator.context import ApiCall, RequestContext, Route, StripeObject, internal
from devtools.stripe_emulator.errors import StripeError, invalid_request
from devtools.stripe_emulator.events import changed, emit
from devtools.stripe_emulator.forms import get_bool, get_dict, merge_metadata
from devtools.stripe_emulator.ledger import add_transaction, fee_detail
from devtools.stripe_emulator.money import dispute_fee
from devtools.stripe_emulator.pagination import filter_equal, filter_range, list_object
from devtools.stripe_emulator.state import EmulatorState
from devtools.stripe_emulator.store import new_id, now

EVIDENCE_FIELDS = (
    "access_activity_log", "billing_address", "cancellation_policy",
    "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication",
    "customer_email_address", "customer_name", "customer_purchase_ip", "customer_signature",
    "duplicate_charge_documentation", "duplicate_charge_explanation", "duplicate_charge_id",
    "product_description", "receipt", "refund_policy", "refund_policy_disclosure",
    "refund_refusal_explanation", "service_date", "service_documentation", "shipping_address",
    "shipping_carrier", "shipping_date", "shipping_documentation", "shipping_tracking_number",
    "uncategorized_file", "uncategorized_text",
)  # fmt: skip
REASONS = (
    "bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
    "debit_not_authorized", "duplicate", "fraudulent", "general", "incorrect_account_details",
    "insufficient_funds", "product_not_received", "product_unacceptable",
    "subscription_canceled", "unrecognized",
)  # fmt: skip
_OPEN = ("warning_needs_response", "needs_response", "under_review", "warning_under_review")
_WEEK = 7 * 24 * 3600


def open_dispute(state: EmulatorState, charge: StripeObject, reason: str) -> StripeObject:
    """The cardholder's bank disputes `charge`: funds and the dispute fee are withdrawn."""
    if reason not in REASONS:
        raise invalid_request(f"Invalid dispute reason: {reason}", param="reason")
    if charge["status"] != "succeeded" or not charge["captured"] or charge["disputed"]:
        raise invalid_request(
            f"Charge {charge['id']} cannot be disputed (not captured or disputed already)."
        )
    account = state.store.owner.get(charge["id"])
    ctx = internal(account)
    dispute_id, currency = new_id("du"), charge["currency"]
    amount = charge["amount_captured"] - charge["amount_refunded"]
    withdrawal = add_transaction(
        state, account, amount=-amount, currency=currency, kind="adjustment", source=dispute_id,
        fee_details=[fee_detail(dispute_fee(currency), currency)],
        description=f"Chargeback withdrawal for {charge['id']}",
    )  # fmt: skip
    dispute = _dispute_object(dispute_id, charge, amount, reason, withdrawal)
    state.store.add(dispute, account)
    previous = changed(charge, disputed=True)
    emit(state, ctx, "charge.dispute.created", dispute)
    emit(state, ctx, "charge.updated", charge, previous=previous)
    emit(state, ctx, "charge.dispute.funds_withdrawn", dispute)
    return dispute


def _dispute_object(
    dispute_id: str, charge: StripeObject, amount: int, reason: str, withdrawal: StripeObject
) -> StripeObject:
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [withdrawal],
        "charge": charge["id"],
        "created": now(),
        "currency": charge["currency"],
        "evidence": dict.fromkeys(EVIDENCE_FIELDS),
        "evidence_details": {
            "due_by": now() + _WEEK,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": "needs_response",
    }


def close_dispute(state: EmulatorState, dispute: StripeObject, outcome: str) -> StripeObject:
    if outcome not in ("won", "lost"):
        raise invalid_request("outcome must be 'won' or 'lost'", param="outcome")
    _require_open(dispute)
    ctx = internal(state.store.owner.get(dispute["id"]))
    previous = changed(dispute, status=outcome)
    if outcome == "won":
        _reinstate(state, ctx, dispute)
    emit(state, ctx, "charge.dispute.closed", dispute, previous=previous)
    return dispute


def _reinstate(state: EmulatorState, ctx: RequestContext, dispute: StripeObject) -> None:
    reinstated = add_transaction(
        state, ctx.account, amount=dispute["amount"], currency=dispute["currency"],
        kind="adjustment", source=dispute["id"],
        description=f"Chargeback reversal for {dispute['charge']}",
    )  # fmt: skip
    dispute["balance_transactions"].append(reinstated)
    emit(state, ctx, "charge.dispute.funds_reinstated", dispute)


def _require_open(dispute: StripeObject) -> None:
    if dispute["status"] not in _OPEN:
        raise StripeError(400, f"This dispute is already closed (status: {dispute['status']}).")


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get("dispute", call.path_id(), call.account)


def update(call: ApiCall) -> StripeObject:
    """Evidence (`evidence[...]`), metadata, and `submit=true` to send it to the bank."""
    dispute = retrieve(call)
    _require_open(dispute)
    evidence = get_dict(call.params, "evidence")
    unknown = sorted(set(evidence) - set(EVIDENCE_FIELDS))
    if unknown:
        raise invalid_request(
            f"Received unknown parameter: evidence[{unknown[0]}]", param=f"evidence[{unknown[0]}]"
        )
    updates: StripeObject = {"evidence": {**dispute["evidence"], **evidence}}
    if "metadata" in call.params:
        updates["metadata"] = merge_metadata(dispute["metadata"], call.params)
    details = dict(dispute["evidence_details"], has_evidence=any(updates["evidence"].values()))
    if get_bool(call.params, "submit", default=True):
        updates["status"] = "under_review"
        details["submission_count"] += 1
    updates["evidence_details"] = details
    previous = changed(dispute, **updates)
    if previous:
        emit(call.state, call.ctx, "charge.dispute.updated", dispute, previous=previous)
    return dispute


def accept(call: ApiCall) -> StripeObject:
    """`POST /v1/disputes/{id}/close`: the merchant accepts the dispute (it is lost)."""
    dispute = retrieve(call)
    _require_open(dispute)
    previous = changed(dispute, status="lost")
    emit(call.state, call.ctx, "charge.dispute.closed", dispute, previous=previous)
    return dispute


def list_all(call: ApiCall) -> StripeObject:
    items = call.state.store.all("dispute", call.account)
    items = filter_equal(items, call.params, "charge", "payment_intent")
    return list_object(filter_range(items, call.params, "created"), call.params, call.url)


ROUTES: list[Route] = [
    ("GET", "/v1/disputes", list_all),
    ("GET", "/v1/disputes/{id}", retrieve),
    ("POST", "/v1/disputes/{id}", update),
    ("POST", "/v1/disputes/{id}/close", accept),
]
