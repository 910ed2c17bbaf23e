"""How payment facts move the payment sub-state; helpers of `evolve`, pure like it.

The rules are chosen so that the fold gives the same answer however Stripe's events were
delivered: money figures are kept as maxima per PaymentIntent or charge, a captured payment
never goes back to "requires authentication" or "failed", and an event about an older
PaymentIntent does not overwrite the status of the one the buyer is paying with now.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from libs.common.contracts.orders_events import (
    CheckoutSessionCreated,
    PaymentAuthorized,
    PaymentCanceled,
    PaymentCaptured,
    PaymentFailed,
    PaymentIntentCreated,
    PaymentObserved,
    PaymentRequiresAuthentication,
    ProcessingFeeRecorded,
)
from services.orders.domain.state import Order, Payment, put_max

_SETTLED = ("authorized", "captured")


def _with(state: Order, **changes: object) -> Order:
    return dataclasses.replace(state, payment=dataclasses.replace(state.payment, **changes))  # type: ignore[arg-type]


def _is_current(payment: Payment, intent: str) -> bool:
    """An attempt's event may set the status unless money is already held by another one."""
    if intent in payment.canceled_intents:
        return False
    if payment.status in _SETTLED:
        return payment.payment_intent_id == intent and payment.status != "captured"
    return True


def attempt_started(state: Order, intent: str | None, session: str | None) -> Order:
    """A new PaymentIntent or Checkout Session: a failed or canceled payment may be retried."""
    payment = state.payment
    changes: dict[str, object] = {}
    if intent is not None and payment.status not in _SETTLED:
        changes["payment_intent_id"] = intent
    if session is not None:
        changes["checkout_session_id"] = session
    retry = intent is None or intent not in payment.canceled_intents
    if payment.status in ("failed", "canceled") and retry:
        changes["status"] = "awaiting_payment"
    return _with(state, **changes)


def requires_authentication(state: Order, fact: PaymentRequiresAuthentication) -> Order:
    if not _is_current(state.payment, fact.payment_intent_id):
        return state
    return _with(
        state,
        status="requires_authentication",
        payment_intent_id=fact.payment_intent_id,
        next_action=fact.next_action,
    )


def failed(state: Order, fact: PaymentFailed) -> Order:
    payment = state.payment
    if not _is_current(payment, fact.payment_intent_id):
        return _with(state, failures=payment.failures + 1)
    return _with(
        state,
        status="failed",
        payment_intent_id=fact.payment_intent_id,
        next_action=None,
        decline_code=fact.decline_code or fact.failure_code,
        failure_message=fact.message,
        failures=payment.failures + 1,
    )


def authorized(state: Order, fact: PaymentAuthorized) -> Order:
    payment = state.payment
    if not _is_current(payment, fact.payment_intent_id):
        return state
    return _with(
        state,
        status="authorized",
        payment_intent_id=fact.payment_intent_id,
        next_action=None,
        authorized=max(payment.authorized, fact.amount),
    )


def captured(state: Order, fact: PaymentCaptured) -> Order:
    """Money taken. Only captures in the order's currency count towards its total; one in
    another currency is kept apart (its minor units are not the order's)."""
    payment = state.payment
    changes: dict[str, object] = {
        "status": "captured",
        "payment_intent_id": fact.payment_intent_id,
        "next_action": None,
    }
    if fact.currency != state.currency:
        key = f"{fact.payment_intent_id} {fact.currency}"
        changes["foreign_captured"] = put_max(payment.foreign_captured, key, fact.amount)
    else:
        changes["captured_by_intent"] = put_max(
            payment.captured_by_intent, fact.payment_intent_id, fact.amount
        )
    if fact.charge_id is not None:
        changes["charge_id"] = fact.charge_id
        if fact.processing_fee is not None:
            changes["fee_by_charge"] = put_max(
                payment.fee_by_charge, fact.charge_id, fact.processing_fee
            )
            changes["fee_currency"] = fact.processing_fee_currency or fact.currency
            changes["exchange_rate"] = fact.exchange_rate
    return _with(state, **changes)


def canceled(state: Order, fact: PaymentCanceled) -> Order:
    """A canceled hold ends an unpaid order; any other canceled attempt may be retried."""
    payment = state.payment
    intents = payment.canceled_intents | {fact.payment_intent_id}
    if payment.status == "captured" or payment.payment_intent_id not in (
        None,
        fact.payment_intent_id,
    ):
        return _with(state, canceled_intents=intents)
    was_held = payment.status == "authorized"
    state = _with(state, status="canceled", next_action=None, canceled_intents=intents)
    if was_held and state.status == "created":
        reason = f"authorization canceled ({fact.cancellation_reason or 'unknown reason'})"
        return dataclasses.replace(
            state, status="canceled", canceled_at=fact.occurred_at, cancel_reason=reason
        )
    return state


def fee(state: Order, fact: ProcessingFeeRecorded) -> Order:
    table = put_max(state.payment.fee_by_charge, fact.charge_id, fact.fee)
    return _with(
        state, fee_by_charge=table, fee_currency=fact.currency, exchange_rate=fact.exchange_rate
    )


def refunded(state: Order, charge_id: str, refunded_total: int) -> Order:
    table = put_max(state.payment.refunded_by_charge, charge_id, refunded_total)
    return _with(state, refunded_by_charge=table)


_OBSERVED_STATUS = {
    "requires_action": "requires_authentication",
    "requires_capture": "authorized",
    "requires_confirmation": "awaiting_payment",
    "processing": "awaiting_payment",
}


def observed(state: Order, fact: PaymentObserved) -> Order:
    """Stripe's current word on the intent's status, read after same-second events. Money
    (captures, cancels) still comes from its own facts; this settles only where the buyer is."""
    payment = state.payment
    if not _is_current(payment, fact.payment_intent_id):
        return state
    status = _OBSERVED_STATUS.get(fact.status)
    if fact.status == "requires_payment_method":
        status = "failed" if fact.decline_code or fact.failure_message else "awaiting_payment"
    if status is None:
        return state
    changes: dict[str, object] = {
        "status": status,
        "payment_intent_id": fact.payment_intent_id,
        "next_action": fact.next_action if status == "requires_authentication" else None,
    }
    if status == "failed":
        changes["decline_code"] = fact.decline_code
        changes["failure_message"] = fact.failure_message
    if status == "authorized":
        changes["authorized"] = max(payment.authorized, fact.amount_capturable)
    return _with(state, **changes)


def open_intents(state: Order) -> list[tuple[str, datetime]]:
    """PaymentIntents of the order that may still take money, with when each was started."""
    payment = state.payment
    started: dict[str, datetime] = {}
    for fact in state.facts:
        if isinstance(fact, PaymentIntentCreated):
            started.setdefault(fact.payment_intent_id, fact.occurred_at)
    if payment.payment_intent_id is not None:
        started.setdefault(payment.payment_intent_id, state.last_fact_at)
    done = payment.canceled_intents | {intent for intent, _ in payment.captured_by_intent}
    return [(intent, at) for intent, at in started.items() if intent not in done]


def sessions(state: Order) -> list[tuple[str, datetime]]:
    """The order's Checkout Sessions, with when each was started."""
    return [
        (f.checkout_session_id, f.occurred_at)
        for f in state.facts
        if isinstance(f, CheckoutSessionCreated)
    ]
