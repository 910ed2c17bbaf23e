"""`evolve(state, fact) -> state`: apply one fact, whatever order facts arrive in.

Stripe delivers duplicates and out of order, so the order is defined as a fold over its
facts sorted by a total order (`sort_key`): `OrderCreated` first, then the time the fact
happened (a Stripe event's `created` second), then the fact type's rank in a payment's real
lifecycle, then the cause id. A fact already applied (same `fact_key`) changes nothing; any
other is inserted where it sorts, and it and the facts after it are applied again to the
state the order had before that place (`Order.steps`): a fact in order costs one step, a late
one as many as the facts it overtakes, never the whole history. Each
`_apply` function below never refuses a fact: facts happened, so it records them where they
belong, and cumulative Stripe figures are kept as maxima so an older snapshot never undoes
a newer one.

Why remembering every applied id is fine: ids are kept per order, and an order receives a
bounded number of Stripe events and commands in its life (one payment's lifecycle, a few
refunds, a dispute), typically under fifty.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Sequence
from datetime import datetime
from functools import singledispatch

from libs.common.contracts.orders_events import (
    AuthorizationCancelRequested,
    CaptureFailed,
    CaptureRequested,
    CheckoutSessionCreated,
    CheckoutSessionExpireRequested,
    CommandRejected,
    DisputeClosed,
    DisputeOpened,
    OrderCanceled,
    OrderCompleted,
    OrderCreated,
    OrderFact,
    OrderFulfilled,
    OrderRefunded,
    PaymentAmountMismatch,
    PaymentAuthorized,
    PaymentCanceled,
    PaymentCaptured,
    PaymentFailed,
    PaymentIntentCreated,
    PaymentObserved,
    PaymentRefreshRequested,
    PaymentRequiresAuthentication,
    ProcessingFeeRecorded,
    ReceiptIssued,
    RefundRecorded,
    RefundRequested,
    TransferMade,
)
from services.orders.domain import payment_rules as pay
from services.orders.domain.errors import UnknownOrder
from services.orders.domain.identity import identity
from services.orders.domain.state import ACTIVE, Dispute, FactKey, Order, PendingFulfilment

RANK: dict[type[OrderFact], int] = {
    OrderCreated: 0,
    PaymentIntentCreated: 10,
    CheckoutSessionCreated: 10,
    PaymentRequiresAuthentication: 20,
    PaymentFailed: 30,
    PaymentAuthorized: 40,
    CaptureRequested: 45,
    CaptureFailed: 46,
    PaymentCaptured: 50,
    PaymentAmountMismatch: 51,
    ProcessingFeeRecorded: 55,
    OrderCanceled: 56,
    AuthorizationCancelRequested: 57,
    CheckoutSessionExpireRequested: 57,
    PaymentCanceled: 58,
    PaymentObserved: 59,
    PaymentRefreshRequested: 99,
    OrderFulfilled: 60,
    OrderCompleted: 70,
    RefundRequested: 79,
    RefundRecorded: 80,
    DisputeOpened: 90,
    DisputeClosed: 95,
    ReceiptIssued: 100,
    TransferMade: 100,
}
"""Where each fact type sits in a payment's life; breaks ties between facts of one second."""

NOT_STORED: tuple[type[OrderFact], ...] = (CommandRejected, OrderRefunded)
"""Answers and derived notices: published, never part of the order's own history."""

SortKey = tuple[int, datetime, int, str, str, str]
Keys = frozenset[FactKey]


def sort_key(fact: OrderFact) -> SortKey:
    """Whole seconds first: Stripe stamps its events to the second, our commands to the
    microsecond, so within one second only the lifecycle rank can tell which came first
    (a cancel we asked for, then Stripe's word that the payment was canceled)."""
    first = 0 if isinstance(fact, OrderCreated) else 1
    kind = type(fact).__name__
    second = fact.occurred_at.replace(microsecond=0)
    return (first, second, RANK.get(type(fact), 100), fact.cause.id, kind, _extra(fact))


def _extra(fact: OrderFact) -> str:
    if isinstance(fact, ReceiptIssued):
        return fact.receipt_id
    if isinstance(fact, TransferMade):
        return fact.transfer_id
    return ""


def fact_keys(fact: OrderFact) -> tuple[FactKey, ...]:
    """Identity of a fact for dedupe (see `identity`); a capture request also stands for the
    fulfilment it brings about, so that fulfilment, published as a notice, is never applied
    again as a fact of its own."""
    own = identity(fact)
    if isinstance(fact, CaptureRequested):
        return (own, ("OrderFulfilled", fact.cause.kind, fact.cause.id))
    return (own,)


def evolve(state: Order | None, fact: OrderFact) -> Order:
    """Apply `fact`; idempotent, and the result does not depend on the order of arrival."""
    if isinstance(fact, NOT_STORED):
        if state is None:
            raise UnknownOrder(f"order {fact.order_id} does not exist", order_id=fact.order_id)
        return state
    stored = fact.model_copy(update={"from_status": None, "to_status": None, "fact_id": None})
    if state is None:
        return fold((stored,))
    if isinstance(stored, OrderCreated):
        return state
    key = sort_key(stored)
    seen = state.seen | {stored.cause.id}
    if any(k in state.keys for k in fact_keys(stored)):
        return _retold(state, stored)
    # `OrderCreated` sorts first, so a later fact always has a step before it to start from.
    at = bisect.bisect_right(state.facts, key, key=sort_key)
    facts = (*state.facts[:at], stored, *state.facts[at:])
    keys = state.keys.union(fact_keys(stored))
    return _fold_from(state.steps[:at], facts, keys, seen)


def _retold(state: Order, stored: OrderFact) -> Order:
    """The same change told by another event: the order keeps the telling that sorts first,
    so which telling arrived first makes no difference to the result."""
    own = fact_keys(stored)[0]
    at = next((i for i, f in enumerate(state.facts) if fact_keys(f)[0] == own), None)
    if at is None or sort_key(stored) >= sort_key(state.facts[at]):
        return state
    rest = (*state.facts[:at], *state.facts[at + 1 :])
    to = bisect.bisect_right(rest, sort_key(stored), key=sort_key)
    facts = (*rest[:to], stored, *rest[to:])
    return _fold_from(state.steps[:to], facts, state.keys, frozenset(f.cause.id for f in facts))


def is_known(state: Order | None, fact: OrderFact) -> bool:
    """Whether the order has applied this change already (perhaps told by another event)."""
    return state is not None and any(k in state.keys for k in fact_keys(fact))


def fold(facts: Sequence[OrderFact]) -> Order:
    """The order defined by `facts` (already in `sort_key` order, `OrderCreated` first)."""
    if not facts or not isinstance(facts[0], OrderCreated):
        order_id = facts[0].order_id if facts else "?"
        raise UnknownOrder(f"order {order_id} has no OrderCreated", order_id=order_id)
    keys = frozenset(key for fact in facts for key in fact_keys(fact))
    seen = frozenset(fact.cause.id for fact in facts)
    return _fold_from((_start(facts[0]),), tuple(facts), keys, seen)


def _fold_from(
    steps: tuple[Order, ...], facts: tuple[OrderFact, ...], keys: Keys, seen: frozenset[str]
) -> Order:
    """Apply `facts[len(steps):]` to the last of `steps`, the states after the facts before,
    and give the result the whole of `facts` and its identities."""
    done = list(steps)
    state = done[-1]
    for fact in facts[len(steps) :]:
        state = apply(fact, state)
        done.append(state)
    return dataclasses.replace(state, facts=facts, steps=tuple(done), keys=keys, seen=seen)


def _start(fact: OrderCreated) -> Order:
    return Order(
        order_id=fact.order_id,
        buyer=fact.buyer,
        currency=fact.currency,
        items=fact.items,
        shipping=fact.shipping,
        capture_method=fact.capture_method,
        created_at=fact.occurred_at,
    )


def settle(state: Order) -> Order:
    """A full refund of what was captured ends an active order as `refunded`."""
    captured, refunded = state.payment.captured, state.payment.refunded
    if state.status in ACTIVE and captured > 0 and refunded >= captured:
        return dataclasses.replace(state, status="refunded")
    return state


def _move(state: Order, allowed: tuple[str, ...], target: str, **changes: object) -> Order:
    """Move to `target` from an allowed status; under a dispute, move the status it returns to."""
    if state.status in allowed:
        return dataclasses.replace(state, status=target, **changes)  # type: ignore[arg-type]
    dispute = state.dispute
    if state.status == "disputed" and dispute is not None and dispute.status_before in allowed:
        moved = dataclasses.replace(dispute, status_before=target)  # type: ignore[arg-type]
        return dataclasses.replace(state, dispute=moved, **changes)  # type: ignore[arg-type]
    return dataclasses.replace(state, **changes)  # type: ignore[arg-type]


@singledispatch
def apply(fact: OrderFact, state: Order) -> Order:
    """Facts without an effect on the state (effects requested, receipts, transfers)."""
    return state


@apply.register
def _(fact: PaymentIntentCreated, state: Order) -> Order:
    return pay.attempt_started(state, fact.payment_intent_id, None)


@apply.register
def _(fact: CheckoutSessionCreated, state: Order) -> Order:
    return pay.attempt_started(state, fact.payment_intent_id, fact.checkout_session_id)


@apply.register
def _(fact: PaymentRequiresAuthentication, state: Order) -> Order:
    return pay.requires_authentication(state, fact)


@apply.register
def _(fact: PaymentFailed, state: Order) -> Order:
    return pay.failed(state, fact)


@apply.register
def _(fact: PaymentAuthorized, state: Order) -> Order:
    return pay.authorized(state, fact)


@apply.register
def _(fact: PaymentCanceled, state: Order) -> Order:
    return pay.canceled(state, fact)


@apply.register
def _(fact: PaymentObserved, state: Order) -> Order:
    return pay.observed(state, fact)


@apply.register
def _(fact: ProcessingFeeRecorded, state: Order) -> Order:
    return pay.fee(state, fact)


@apply.register
def _(fact: PaymentCaptured, state: Order) -> Order:
    state = pay.captured(state, fact)
    # Paid means paid in full: anything else is a `PaymentAmountMismatch` (see reactions).
    if state.status == "created" and state.payment.captured == state.total.amount:
        state = dataclasses.replace(state, status="paid")
        pending = state.pending_fulfilment
        if pending is not None:
            state = dataclasses.replace(state, status="fulfilled", fulfilled_at=fact.occurred_at)
    return settle(state)


@apply.register
def _(fact: CaptureFailed, state: Order) -> Order:
    pending = state.pending_fulfilment
    if pending is not None and pending.cause == fact.cause:
        return dataclasses.replace(state, pending_fulfilment=None)
    return state


@apply.register
def _(fact: CaptureRequested, state: Order) -> Order:
    pending = PendingFulfilment(cause=fact.cause, actor=fact.actor, requested_at=fact.occurred_at)
    if state.status == "created" and state.pending_fulfilment is None:
        return dataclasses.replace(state, pending_fulfilment=pending)
    return state


@apply.register
def _(fact: OrderFulfilled, state: Order) -> Order:
    return _move(state, ("paid",), "fulfilled", fulfilled_at=fact.occurred_at)


@apply.register
def _(fact: OrderCompleted, state: Order) -> Order:
    return _move(state, ("fulfilled",), "completed", completed_at=fact.occurred_at)


@apply.register
def _(fact: OrderCanceled, state: Order) -> Order:
    changes = {"canceled_at": fact.occurred_at, "cancel_reason": fact.reason}
    return _move(state, ("created", "paid"), "canceled", **changes)


@apply.register
def _(fact: RefundRecorded, state: Order) -> Order:
    return settle(pay.refunded(state, fact.charge_id, fact.refunded_total))


@apply.register
def _(fact: DisputeOpened, state: Order) -> Order:
    if state.dispute is not None and state.dispute.dispute_id == fact.dispute_id:
        return state
    before = state.dispute.status_before if state.status == "disputed" and state.dispute else None
    dispute = Dispute(
        dispute_id=fact.dispute_id,
        amount=fact.amount,
        reason=fact.reason,
        stripe_status=fact.status,
        outcome="open",
        status_before=before or state.status,
    )
    return dataclasses.replace(state, status="disputed", dispute=dispute)


@apply.register
def _(fact: DisputeClosed, state: Order) -> Order:
    opened = state.dispute
    if opened is None or opened.dispute_id != fact.dispute_id:
        opening = DisputeOpened.model_validate({**fact.model_dump(), "type": "DisputeOpened"})
        state = apply(opening, state)
        opened = state.dispute
    assert opened is not None
    closed = dataclasses.replace(opened, outcome=fact.outcome, stripe_status=fact.status)
    if fact.outcome == "lost":
        return dataclasses.replace(state, dispute=closed)
    return settle(dataclasses.replace(state, status=opened.status_before, dispute=closed))
