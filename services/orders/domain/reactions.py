"""What the order does by itself once a fact is applied: about money it should not keep, and
about Stripe events whose order within one second is unknown (see `_refreshes`).

Two money rules, both read off the state (not off the fact that triggered them), so that the
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
from datetime import datetime

from libs.common.contracts.orders_commands import Actor
from libs.common.contracts.orders_events import (
    AuthorizationCancelRequested,
    Cause,
    CheckoutSessionExpireRequested,
    MismatchKind,
    OrderCanceled,
    OrderFact,
    PaymentAmountMismatch,
    PaymentAuthorized,
    PaymentCanceled,
    PaymentCaptured,
    PaymentFailed,
    PaymentRefreshRequested,
    PaymentRequiresAuthentication,
    RefundReason,
    RefundRequested,
)
from services.orders.domain.evolve import is_known
from services.orders.domain.idempotency import idempotency_key
from services.orders.domain.payment_rules import open_intents, sessions
from services.orders.domain.state import Order


@dataclass(frozen=True)
class Policy:
    refund_surplus: bool = True
    """Refund a second successful payment on an order already paid in full."""


def reactions(state: Order, policy: Policy) -> list[OrderFact]:
    """The facts `state` calls for that it does not hold yet."""
    wanted: list[OrderFact] = _refreshes(state)
    captures = _captures(state)
    if state.status == "canceled":
        wanted += _closings(state)
        wanted += _refunds(state, captures, "order_canceled")
    paid = 0
    for capture in captures:
        kind = _mismatch(state, capture, paid)
        if capture.currency == state.currency:
            paid += capture.amount
        if kind is None:
            continue
        wanted.append(_mismatch_fact(state, capture, kind))
        if kind == "second_payment" and policy.refund_surplus:
            wanted += _refunds(state, [capture], "surplus_payment")
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


def _base(state: Order, cause: Cause, at: datetime) -> dict[str, object]:
    """A reaction is caused by, and timed after, the facts that call for it, never by the
    fact that happened to arrive last, so that it is the same in every delivery order."""
    return {
        "order_id": state.order_id,
        "cause": cause,
        "actor": Actor(kind="system", id="orders"),
        "occurred_at": at,
    }


def _mismatch_fact(
    state: Order, capture: PaymentCaptured, kind: MismatchKind
) -> PaymentAmountMismatch:
    return PaymentAmountMismatch(
        **_base(state, capture.cause, capture.occurred_at),
        currency=state.currency,
        payment_intent_id=capture.payment_intent_id,
        kind=kind,
        expected_amount=state.total.amount,
        actual_amount=capture.amount,
        actual_currency=capture.currency,
    )


def _refunds(
    state: Order, captures: list[PaymentCaptured], reason: RefundReason
) -> list[OrderFact]:
    """A refund of what is left on each capture; nothing for one refunded already."""
    refunded = dict(state.payment.refunded_by_charge)
    facts: list[OrderFact] = []
    for capture in captures:
        left = capture.amount - refunded.get(capture.charge_id or "", 0)
        if left <= 0:
            continue
        intent = capture.payment_intent_id
        at = max(capture.occurred_at, state.canceled_at or capture.occurred_at)
        facts.append(
            RefundRequested(
                **_base(state, capture.cause, at),
                currency=capture.currency,
                payment_intent_id=intent,
                amount=left,
                reason=reason,
                idempotency_key=idempotency_key(state.order_id, "refund", intent, "auto"),
            )
        )
    return facts


_STATUS_FACTS = (
    PaymentRequiresAuthentication,
    PaymentFailed,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentCanceled,
)


def _refreshes(state: Order) -> list[OrderFact]:
    """Stripe stamps events to the second: two events about one PaymentIntent's status in
    the same second leave their order unknown (the rank in `evolve` is a guess), so the
    PaymentIntent is read again and its current state applied (`PaymentObserved`)."""
    tellers: dict[tuple[str, datetime], set[str]] = {}
    for fact in state.facts:
        if isinstance(fact, _STATUS_FACTS) and fact.cause.kind == "stripe_event":
            second = fact.occurred_at.replace(microsecond=0)
            tellers.setdefault((fact.payment_intent_id, second), set()).add(fact.cause.id)
    return [
        PaymentRefreshRequested(
            **_base(state, _tie(intent, second), second),
            payment_intent_id=intent,
            second=second,
        )
        for (intent, second), causes in tellers.items()
        if len(causes) > 1
    ]


def _tie(intent: str, second: datetime) -> Cause:
    # Named after the tie, not after its events: which of them arrived first must not matter.
    return Cause(kind="system", id=f"same-second:{intent}:{int(second.timestamp())}")


def _closings(state: Order) -> list[OrderFact]:
    """Every attempt of a canceled order that may still take money is closed at Stripe: open
    PaymentIntents canceled, Checkout Sessions expired (a session already complete or
    expired makes that a no-op). A payment that wins the race anyway is refunded."""
    canceled = next((f for f in reversed(state.facts) if isinstance(f, OrderCanceled)), None)
    cause = canceled.cause if canceled else Cause(kind="system", id=f"canceled:{state.order_id}")
    reason = state.cancel_reason
    facts: list[OrderFact] = []
    for intent, at in open_intents(state):
        facts.append(
            AuthorizationCancelRequested(
                **_base(state, cause, max(at, state.canceled_at or at)),
                payment_intent_id=intent,
                reason=reason,
                idempotency_key=idempotency_key(state.order_id, "cancel", intent),
            )
        )
    for session, at in sessions(state):
        facts.append(
            CheckoutSessionExpireRequested(
                **_base(state, cause, max(at, state.canceled_at or at)),
                checkout_session_id=session,
                reason=reason,
            )
        )
    return facts
