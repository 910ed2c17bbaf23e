"""What the order does by itself about money it should not keep, once a fact is applied.

Two rules, both read off the state (not off the fact that triggered them), so that the
result is the same whatever order Stripe's events arrive in:
- A canceled order keeps no money: every capture on it is refunded (a payment that raced
  the cancel at Stripe and won).
- Paid means paid exactly: a capture that does not make the order's total in its currency
  is a `PaymentAmountMismatch` (kept for reconciliation); a capture on an order that other
  captures had already paid in full is a second payment, refunded when the policy says so.

Each reaction is an ordinary fact with an identity of its own (one refund request per
PaymentIntent, whatever the reason; one mismatch per PaymentIntent and kind), so a reaction
is decided once.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.common.contracts.orders_commands import Actor
from libs.common.contracts.orders_events import (
    MismatchKind,
    OrderFact,
    PaymentAmountMismatch,
    PaymentCaptured,
    RefundReason,
    RefundRequested,
)
from services.orders.domain.evolve import is_known
from services.orders.domain.idempotency import idempotency_key
from services.orders.domain.state import Order


@dataclass(frozen=True)
class Policy:
    refund_surplus: bool = True
    """Refund a second successful payment on an order already paid in full."""


def reactions(state: Order, trigger: OrderFact, policy: Policy) -> list[OrderFact]:
    """The facts `state` calls for that it does not hold yet, caused by `trigger`."""
    captures = _captures(state)
    if not captures:
        return []
    wanted: list[OrderFact] = []
    if state.status == "canceled":
        wanted += _refunds(state, trigger, captures, "order_canceled")
    paid = 0
    for capture in captures:
        kind = _mismatch(state, capture, paid)
        if capture.currency == state.currency:
            paid += capture.amount
        if kind is None:
            continue
        wanted.append(_mismatch_fact(state, trigger, capture, kind))
        if kind == "second_payment" and policy.refund_surplus:
            wanted += _refunds(state, trigger, [capture], "surplus_payment")
    return [fact for fact in wanted if not is_known(state, fact)]


def _captures(state: Order) -> list[PaymentCaptured]:
    """The latest capture of each PaymentIntent, in the order the intents were first captured."""
    latest: dict[str, PaymentCaptured] = {}
    for fact in state.facts:
        if isinstance(fact, PaymentCaptured):
            # dicts keep the first insertion's place: a later capture of the intent replaces
            # the value where the intent was first captured.
            latest[fact.payment_intent_id] = fact
    return list(latest.values())


def _mismatch(state: Order, capture: PaymentCaptured, paid_before: int) -> MismatchKind | None:
    total = state.total.amount
    if paid_before >= total:
        return "second_payment"
    if capture.currency != state.currency:
        return "currency"
    if paid_before + capture.amount < total:
        return "short"
    if paid_before + capture.amount > total:
        return "over"
    return None


def _base(state: Order, trigger: OrderFact) -> dict[str, object]:
    return {
        "order_id": state.order_id,
        "cause": trigger.cause,
        "actor": Actor(kind="system", id="orders"),
        "occurred_at": state.last_fact_at,
    }


def _mismatch_fact(
    state: Order, trigger: OrderFact, capture: PaymentCaptured, kind: MismatchKind
) -> PaymentAmountMismatch:
    return PaymentAmountMismatch(
        **_base(state, trigger),
        currency=state.currency,
        payment_intent_id=capture.payment_intent_id,
        kind=kind,
        expected_amount=state.total.amount,
        actual_amount=capture.amount,
        actual_currency=capture.currency,
    )


def _refunds(
    state: Order, trigger: OrderFact, captures: list[PaymentCaptured], reason: RefundReason
) -> list[OrderFact]:
    """A refund of what is left on each capture; nothing for one refunded already."""
    refunded = dict(state.payment.refunded_by_charge)
    facts: list[OrderFact] = []
    for capture in captures:
        left = capture.amount - refunded.get(capture.charge_id or "", 0)
        if left <= 0:
            continue
        intent = capture.payment_intent_id
        facts.append(
            RefundRequested(
                **_base(state, trigger),
                currency=capture.currency,
                payment_intent_id=intent,
                amount=left,
                reason=reason,
                idempotency_key=idempotency_key(state.order_id, "refund", intent, "auto"),
            )
        )
    return facts
