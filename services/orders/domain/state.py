"""The Order aggregate: a frozen value computed as a fold over the facts applied to it.

The order keeps every fact it has applied (`facts`, in the total order of `evolve.sort_key`)
and the state after each of them (`steps`), so that a fact arriving late can be inserted where
it belongs and only the facts after it applied again; this is what makes the result independent
of Stripe's delivery order. Everything else here is derived from those facts. Amounts are
integer minor units of `currency`; the `Money` properties are the typed view of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from libs.common.contracts.orders_commands import Buyer, CaptureMethod, LineItem, Shipping
from libs.common.contracts.orders_events import Actor, Cause, OrderFact, OrderStatus
from libs.common.money import Money

PaymentStatus = Literal[
    "awaiting_payment", "requires_authentication", "failed", "authorized", "captured", "canceled"
]
DisputeOutcome = Literal["open", "won", "lost"]
FactKey = tuple[str, ...]

ACTIVE: frozenset[OrderStatus] = frozenset({"paid", "fulfilled", "completed"})
"""Statuses in which money is held for the buyer and a full refund ends the order."""


def put_max(
    pairs: tuple[tuple[str, int], ...], key: str, value: int
) -> tuple[tuple[str, int], ...]:
    """Keep the largest value seen per key: cumulative Stripe figures never go back."""
    table = dict(pairs)
    table[key] = max(table.get(key, 0), value)
    return tuple(sorted(table.items()))


@dataclass(frozen=True, slots=True)
class Payment:
    """The payment sub-state the UI shows next to the order status."""

    status: PaymentStatus = "awaiting_payment"
    payment_intent_id: str | None = None
    checkout_session_id: str | None = None
    charge_id: str | None = None
    next_action: Mapping[str, Any] | None = None
    decline_code: str | None = None
    failure_message: str | None = None
    failures: int = 0
    authorized: int = 0
    captured_by_intent: tuple[tuple[str, int], ...] = ()
    foreign_captured: tuple[tuple[str, int], ...] = ()
    """Captures in another currency than the order's, keyed `"<intent> <currency>"`."""
    refunded_by_charge: tuple[tuple[str, int], ...] = ()
    fee_by_charge: tuple[tuple[str, int], ...] = ()
    fee_currency: str | None = None
    """The currency of `fee_by_charge`: Stripe's settlement currency, not always the order's."""
    exchange_rate: str | None = None
    canceled_intents: frozenset[str] = frozenset()

    @property
    def captured(self) -> int:
        return sum(amount for _, amount in self.captured_by_intent)

    @property
    def refunded(self) -> int:
        return sum(amount for _, amount in self.refunded_by_charge)

    @property
    def processing_fee(self) -> int | None:
        """Stripe's actual fee once a balance transaction told us; `None` before that."""
        if not self.fee_by_charge:
            return None
        return sum(amount for _, amount in self.fee_by_charge)


@dataclass(frozen=True, slots=True)
class Dispute:
    dispute_id: str
    amount: int
    reason: str | None
    stripe_status: str | None
    outcome: DisputeOutcome
    status_before: OrderStatus


@dataclass(frozen=True, slots=True)
class PendingFulfilment:
    """A `MarkFulfilled` on an authorized order, waiting for the capture it requested."""

    cause: Cause
    actor: Actor
    requested_at: datetime


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    buyer: Buyer
    currency: str
    items: tuple[LineItem, ...]
    shipping: Shipping | None
    capture_method: CaptureMethod
    created_at: datetime
    status: OrderStatus = "created"
    payment: Payment = field(default_factory=Payment)
    dispute: Dispute | None = None
    pending_fulfilment: PendingFulfilment | None = None
    fulfilled_at: datetime | None = None
    completed_at: datetime | None = None
    canceled_at: datetime | None = None
    cancel_reason: str = ""
    facts: tuple[OrderFact, ...] = ()
    steps: tuple[Order, ...] = ()
    """`steps[i]` is the order after `facts[: i + 1]`, without `facts`, `steps` and `keys` of its
    own (they would make an order's size grow with the square of its history)."""
    keys: frozenset[FactKey] = frozenset()
    seen: frozenset[str] = frozenset()
    """Ids of the Stripe events, commands and API requests already applied."""

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    @property
    def total(self) -> Money:
        shipping = self.shipping.total if self.shipping else 0
        return self.money(sum(item.total for item in self.items) + shipping)

    @property
    def captured(self) -> Money:
        return self.money(self.payment.captured)

    @property
    def refunded(self) -> Money:
        return self.money(self.payment.refunded)

    @property
    def refundable(self) -> Money:
        return self.money(max(self.payment.captured - self.payment.refunded, 0))

    @property
    def disputed(self) -> Money:
        if self.dispute is None or self.dispute.outcome == "won":
            return self.money(0)
        return self.money(self.dispute.amount)

    @property
    def refund_due(self) -> bool:
        """Money was captured for an order that was canceled (a cancel raced the payment)."""
        return self.status == "canceled" and not self.refundable.is_zero

    @property
    def last_fact_at(self) -> datetime:
        return self.facts[-1].occurred_at if self.facts else self.created_at

    def view(self) -> dict[str, Any]:
        """The derived state without the fact log, for comparisons and the read API."""
        return {
            "order_id": self.order_id,
            "status": self.status,
            "currency": self.currency,
            "total": self.total.amount,
            "payment": self.payment,
            "dispute": self.dispute,
            "pending_fulfilment": self.pending_fulfilment,
            "fulfilled_at": self.fulfilled_at,
            "completed_at": self.completed_at,
            "canceled_at": self.canceled_at,
            "cancel_reason": self.cancel_reason,
        }
