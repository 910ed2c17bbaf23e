"""The order's timeline for the UI: what happened, when, from which status to which, why, by whom.

It is written from the fold (`Order.steps`), not from arrival order, so duplicated or
shuffled Stripe deliveries give the same timeline. A fact that changed nothing (a second
event stating a capture already known, an older refund snapshot) adds no entry, except the
kinds that are notable in themselves (payment attempts, requested effects, receipts,
transfers).
"""

from __future__ import annotations

from datetime import datetime
from functools import singledispatch

from pydantic import BaseModel, ConfigDict

from libs.common.contracts.orders_commands import Actor
from libs.common.contracts.orders_events import (
    AuthorizationCancelRequested,
    CaptureFailed,
    CaptureRequested,
    Cause,
    CheckoutSessionCreated,
    CheckoutSessionExpireRequested,
    DisputeClosed,
    DisputeOpened,
    OrderCanceled,
    OrderCompleted,
    OrderCreated,
    OrderFact,
    OrderFulfilled,
    OrderStatus,
    PaymentAmountMismatch,
    PaymentAuthorized,
    PaymentCanceled,
    PaymentCaptured,
    PaymentFailed,
    PaymentIntentCreated,
    PaymentRequiresAuthentication,
    ProcessingFeeRecorded,
    ReceiptIssued,
    RefundRecorded,
    RefundRequested,
    TransferMade,
)
from libs.common.money import MoneyModel
from services.orders.domain.state import Order

NOTABLE = (
    CaptureFailed,
    CheckoutSessionExpireRequested,
    PaymentAmountMismatch,
    RefundRequested,
    PaymentIntentCreated,
    CheckoutSessionCreated,
    CaptureRequested,
    AuthorizationCancelRequested,
    ReceiptIssued,
    TransferMade,
)


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: str
    from_status: OrderStatus | None
    to_status: OrderStatus
    payment_status: str
    cause: Cause
    actor: Actor
    text: str
    amount: MoneyModel | None = None
    accepted_at: datetime | None = None
    """For a command's step: when the worker took it; `at` is the client's `issued_at`."""


def timeline(order: Order) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for at, (fact, after) in enumerate(zip(order.facts, order.steps, strict=True)):
        before = order.steps[at - 1] if at else None
        unchanged = before is not None and _visible(before) == _visible(after)
        if not unchanged or isinstance(fact, NOTABLE):
            entries.extend(_entries(before, fact, after))
    return entries


def _visible(order: Order) -> tuple[object, ...]:
    """What the UI shows of an order; a fact that changes none of it adds no entry."""
    p = order.payment
    money = (p.authorized, p.captured, p.refunded, p.processing_fee, p.failures)
    return (order.status, p.status, p.next_action, money, order.dispute, order.pending_fulfilment)


def _entries(before: Order | None, fact: OrderFact, after: Order) -> list[TimelineEntry]:
    text, amount = describe(fact, before or after, after)
    entry = TimelineEntry(
        at=fact.occurred_at,
        kind=type(fact).__name__,
        from_status=before.status if before else None,
        to_status=after.status,
        payment_status=after.payment.status,
        cause=fact.cause,
        actor=fact.actor,
        text=text,
        amount=MoneyModel(amount=amount, currency=_currency(fact, before, after))
        if amount is not None
        else None,
        accepted_at=fact.accepted_at,
    )
    pending = after.pending_fulfilment
    if not (isinstance(fact, PaymentCaptured) and before and before.status == "created"):
        return [entry]
    if pending is None or after.status != "fulfilled":
        return [entry]
    fulfilled = entry.model_copy(
        update={
            "kind": "OrderFulfilled",
            "from_status": "paid",
            "cause": pending.cause,
            "actor": pending.actor,
            "text": "Fulfilled; the authorized payment was captured for it",
            "amount": None,
        }
    )
    return [entry.model_copy(update={"to_status": "paid"}), fulfilled]


def _currency(fact: OrderFact, before: Order | None, after: Order) -> str:
    """Fee entries are in the currency Stripe reported the fee in, the rest in the order's."""
    fee_only = isinstance(fact, PaymentCaptured) and (
        before is not None and after.payment.captured == before.payment.captured
    )
    if isinstance(fact, ProcessingFeeRecorded) or fee_only:
        return after.payment.fee_currency or after.currency
    return after.currency


@singledispatch
def describe(fact: OrderFact, before: Order, after: Order) -> tuple[str, int | None]:
    """A short sentence for the UI and the amount it is about, if any."""
    return type(fact).__name__, None


@describe.register
def _(fact: OrderCreated, before: Order, after: Order) -> tuple[str, int | None]:
    return f"Order placed by {fact.buyer.name or fact.buyer.email}", fact.total


@describe.register
def _(fact: PaymentIntentCreated, before: Order, after: Order) -> tuple[str, int | None]:
    return "Payment started", fact.amount


@describe.register
def _(fact: CheckoutSessionCreated, before: Order, after: Order) -> tuple[str, int | None]:
    return "Checkout started", fact.amount


@describe.register
def _(fact: PaymentRequiresAuthentication, before: Order, after: Order) -> tuple[str, int | None]:
    return "Payment requires authentication (3-D Secure)", None


@describe.register
def _(fact: PaymentFailed, before: Order, after: Order) -> tuple[str, int | None]:
    why = fact.decline_code or fact.failure_code or "unknown reason"
    return f"Payment declined ({why}); the buyer may retry", None


@describe.register
def _(fact: PaymentAuthorized, before: Order, after: Order) -> tuple[str, int | None]:
    return "Payment authorized; capture on fulfilment", after.payment.authorized


@describe.register
def _(fact: PaymentCaptured, before: Order, after: Order) -> tuple[str, int | None]:
    taken = after.payment.captured - before.payment.captured
    if taken == 0:
        return "Processing fee recorded", after.payment.processing_fee
    return "Payment captured", taken


@describe.register
def _(fact: PaymentCanceled, before: Order, after: Order) -> tuple[str, int | None]:
    return f"Payment canceled ({fact.cancellation_reason or 'no reason given'})", None


@describe.register
def _(fact: ProcessingFeeRecorded, before: Order, after: Order) -> tuple[str, int | None]:
    rate = f" at exchange rate {fact.exchange_rate}" if fact.exchange_rate else ""
    return f"Processing fee recorded{rate}", fact.fee


@describe.register
def _(fact: CaptureRequested, before: Order, after: Order) -> tuple[str, int | None]:
    return "Fulfilment asked to capture the authorized payment", fact.amount


@describe.register
def _(fact: OrderFulfilled, before: Order, after: Order) -> tuple[str, int | None]:
    return "Fulfilled", None


@describe.register
def _(fact: OrderCompleted, before: Order, after: Order) -> tuple[str, int | None]:
    return "Completed", None


@describe.register
def _(fact: OrderCanceled, before: Order, after: Order) -> tuple[str, int | None]:
    return f"Canceled: {fact.reason}" if fact.reason else "Canceled", None


@describe.register
def _(fact: AuthorizationCancelRequested, before: Order, after: Order) -> tuple[str, int | None]:
    return "Cancel of the open payment requested", None


@describe.register
def _(fact: RefundRecorded, before: Order, after: Order) -> tuple[str, int | None]:
    amount = after.payment.refunded - before.payment.refunded
    full = " in full" if after.status == "refunded" and before.status != "refunded" else ""
    return f"Refunded{full} (total refunded {after.refunded.format()})", amount


@describe.register
def _(fact: DisputeOpened, before: Order, after: Order) -> tuple[str, int | None]:
    return f"Dispute opened ({fact.reason or 'no reason given'})", fact.amount


@describe.register
def _(fact: DisputeClosed, before: Order, after: Order) -> tuple[str, int | None]:
    return f"Dispute closed: {fact.outcome}", fact.amount


@describe.register
def _(fact: ReceiptIssued, before: Order, after: Order) -> tuple[str, int | None]:
    return f"Receipt issued to the {fact.recipient}", None


@describe.register
def _(fact: TransferMade, before: Order, after: Order) -> tuple[str, int | None]:
    return f"Transfer to seller {fact.seller_id}", fact.amount


@describe.register
def _(fact: CaptureFailed, before: Order, after: Order) -> tuple[str, int | None]:
    return f"Capture refused by Stripe ({fact.code}); fulfil again to retry", None


@describe.register
def _(fact: CheckoutSessionExpireRequested, before: Order, after: Order) -> tuple[str, int | None]:
    return "Expiry of the open Checkout Session requested", None


@describe.register
def _(fact: RefundRequested, before: Order, after: Order) -> tuple[str, int | None]:
    why = {
        "order_canceled": "the order was canceled",
        "surplus_payment": "the order was already paid",
    }[fact.reason]
    return f"Automatic refund requested: {why}", fact.amount


@describe.register
def _(fact: PaymentAmountMismatch, before: Order, after: Order) -> tuple[str, int | None]:
    expected = after.money(fact.expected_amount).format()
    return (
        f"Payment does not match the order ({fact.kind}): expected {expected}, "
        f"captured {fact.actual_amount} minor units of {fact.actual_currency.upper()}",
        None,
    )
