"""Contract of `orders.events`: the facts about orders, in the past tense.

Every fact names its order, its cause (the Stripe event, command or API request behind it),
its actor and when it happened. `from_status`/`to_status` are filled when the orders service
publishes a fact: they say what the fact did to the order at the moment it was applied (a
fact that moved nothing has both equal). Effects the orders handler must carry out on Stripe
(`CaptureRequested`, `AuthorizationCancelRequested`) are facts too, so that their decision is
recorded before the call is made. `ReceiptIssued` and `TransferMade` are published by the
receipts and payouts services and appear on the order's timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from libs.common.contracts.envelope import Contract, Message
from libs.common.contracts.orders_commands import (
    Actor,
    Buyer,
    CaptureMethod,
    Id,
    LineItem,
    MinorUnits,
    Shipping,
    Text,
    ValueObject,
)
from libs.common.contracts.types import StripeText
from libs.common.money import normalize_currency

OrderStatus = Literal[
    "created", "paid", "fulfilled", "completed", "canceled", "refunded", "disputed"
]
CauseKind = Literal["stripe_event", "command", "api_request", "system"]
"""`system`: a rule of the orders service itself (a reaction to the order's own facts)."""


class Cause(ValueObject):
    """What made a fact happen: a Stripe event id, a command id or an API request id."""

    kind: CauseKind
    id: Id


class OrderFact(Message):
    """Fields every fact about an order carries (`type` is each subclass's literal name)."""

    type: str
    fact_id: str | None = Field(
        default=None,
        description="deterministic id of the change (also the envelope's message_id); "
        "the same change told again carries the same id",
    )
    order_id: Id
    cause: Cause
    actor: Actor
    occurred_at: datetime
    accepted_at: datetime | None = Field(
        default=None,
        description="for a command's facts: when the orders worker took the command (its "
        "clock), beside `occurred_at`, the client's `issued_at`",
    )
    from_status: OrderStatus | None = None
    to_status: OrderStatus | None = None


class _MoneyFact(OrderFact):
    currency: str

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)


class OrderCreated(_MoneyFact):
    type: Literal["OrderCreated"] = "OrderCreated"
    buyer: Buyer
    items: tuple[LineItem, ...] = Field(min_length=1)
    shipping: Shipping | None = None
    capture_method: CaptureMethod = "automatic"
    total: MinorUnits


class PaymentIntentCreated(_MoneyFact):
    """A payment attempt started through a PaymentIntent (our API created it)."""

    type: Literal["PaymentIntentCreated"] = "PaymentIntentCreated"
    payment_intent_id: Id
    amount: MinorUnits
    capture_method: CaptureMethod = "automatic"
    customer_id: str | None = None


class CheckoutSessionCreated(_MoneyFact):
    """A payment attempt started through Stripe Checkout."""

    type: Literal["CheckoutSessionCreated"] = "CheckoutSessionCreated"
    checkout_session_id: Id
    amount: MinorUnits
    url: str | None = None
    payment_intent_id: str | None = None


class PaymentRequiresAuthentication(OrderFact):
    """3-D Secure or another challenge the buyer must pass; `next_action` is Stripe's."""

    type: Literal["PaymentRequiresAuthentication"] = "PaymentRequiresAuthentication"
    payment_intent_id: Id
    next_action: dict[str, Any] | None = None


class PaymentFailed(OrderFact):
    """A decline or failed attempt; the buyer may retry with the same or another method."""

    type: Literal["PaymentFailed"] = "PaymentFailed"
    payment_intent_id: Id
    charge_id: str | None = None
    decline_code: StripeText | None = None
    failure_code: StripeText | None = None
    message: StripeText = ""


class PaymentAuthorized(_MoneyFact):
    """Manual capture: the amount is held on the card and may be captured."""

    type: Literal["PaymentAuthorized"] = "PaymentAuthorized"
    payment_intent_id: Id
    amount: MinorUnits


class PaymentCaptured(_MoneyFact):
    """Money taken. `amount` is the cumulative amount captured on the PaymentIntent/charge."""

    type: Literal["PaymentCaptured"] = "PaymentCaptured"
    payment_intent_id: Id
    charge_id: str | None = None
    amount: MinorUnits
    processing_fee: MinorUnits | None = None
    processing_fee_currency: str | None = Field(
        default=None, description="the balance transaction's currency, Stripe's settlement one"
    )
    exchange_rate: str | None = Field(default=None, description="Stripe's rate, exact decimal")
    balance_transaction_id: str | None = None


class PaymentCanceled(OrderFact):
    """The PaymentIntent was canceled (by us, from the dashboard or when its hold lapsed)."""

    type: Literal["PaymentCanceled"] = "PaymentCanceled"
    payment_intent_id: Id
    cancellation_reason: StripeText | None = None


class ProcessingFeeRecorded(_MoneyFact):
    """Stripe's actual fee, from the charge's balance transaction."""

    type: Literal["ProcessingFeeRecorded"] = "ProcessingFeeRecorded"
    charge_id: Id
    balance_transaction_id: str | None = None
    fee: MinorUnits
    exchange_rate: str | None = Field(default=None, description="Stripe's rate, exact decimal")


class OrderFulfilled(OrderFact):
    type: Literal["OrderFulfilled"] = "OrderFulfilled"
    note: Text = ""


class OrderCompleted(OrderFact):
    type: Literal["OrderCompleted"] = "OrderCompleted"


class OrderCanceled(OrderFact):
    type: Literal["OrderCanceled"] = "OrderCanceled"
    reason: Text = ""


class RefundRecorded(_MoneyFact):
    """A refund on a charge. `refunded_total` is the charge's cumulative `amount_refunded`."""

    type: Literal["RefundRecorded"] = "RefundRecorded"
    charge_id: Id
    refund_id: str | None = None
    amount: MinorUnits | None = None
    refunded_total: MinorUnits
    reason: str | None = None


class OrderRefunded(_MoneyFact):
    """Published once when the refunds reach the captured amount."""

    type: Literal["OrderRefunded"] = "OrderRefunded"
    refunded_total: MinorUnits


class DisputeOpened(_MoneyFact):
    type: Literal["DisputeOpened"] = "DisputeOpened"
    dispute_id: Id
    charge_id: str | None = None
    amount: MinorUnits
    reason: str | None = None
    status: str | None = None


class DisputeClosed(_MoneyFact):
    type: Literal["DisputeClosed"] = "DisputeClosed"
    dispute_id: Id
    charge_id: str | None = None
    amount: MinorUnits
    status: str
    outcome: Literal["won", "lost"]


class CaptureRequested(_MoneyFact):
    """Effect: capture the authorized PaymentIntent on Stripe with `idempotency_key`."""

    type: Literal["CaptureRequested"] = "CaptureRequested"
    payment_intent_id: Id
    amount: MinorUnits
    idempotency_key: Id


class AuthorizationCancelRequested(OrderFact):
    """Effect: cancel the PaymentIntent on Stripe so that no money can be taken any more."""

    type: Literal["AuthorizationCancelRequested"] = "AuthorizationCancelRequested"
    payment_intent_id: Id
    reason: Text = ""
    idempotency_key: Id


class CaptureFailed(OrderFact):
    """Stripe refused a capture we asked for; the order is not left waiting for it, and the
    next `MarkFulfilled` may try again (with a new idempotency key)."""

    type: Literal["CaptureFailed"] = "CaptureFailed"
    payment_intent_id: Id
    code: str = ""
    message: Text = ""


class CheckoutSessionExpireRequested(OrderFact):
    """Effect: expire an open Checkout Session so that it can no longer take money."""

    type: Literal["CheckoutSessionExpireRequested"] = "CheckoutSessionExpireRequested"
    checkout_session_id: Id
    reason: Text = ""


RefundReason = Literal["order_canceled", "surplus_payment"]


class RefundRequested(_MoneyFact):
    """Effect: refund `amount` of a PaymentIntent that took money it should not keep."""

    type: Literal["RefundRequested"] = "RefundRequested"
    payment_intent_id: Id
    amount: MinorUnits
    reason: RefundReason
    idempotency_key: Id


MismatchKind = Literal["short", "over", "currency", "second_payment"]


class PaymentAmountMismatch(_MoneyFact):
    """A capture that does not pay the order exactly: kept for reconciliation. `currency`
    and `expected_amount` are the order's; `actual_*` what the PaymentIntent captured."""

    type: Literal["PaymentAmountMismatch"] = "PaymentAmountMismatch"
    payment_intent_id: Id
    kind: MismatchKind
    expected_amount: MinorUnits
    actual_amount: MinorUnits
    actual_currency: str


class PaymentRefreshRequested(OrderFact):
    """Effect: Stripe told two states of one PaymentIntent within the same second (its clock's
    resolution), so their order is unknown: read the PaymentIntent again."""

    type: Literal["PaymentRefreshRequested"] = "PaymentRefreshRequested"
    payment_intent_id: Id
    second: datetime


class PaymentObserved(_MoneyFact):
    """The PaymentIntent as Stripe showed it when we read it again: its current state, which
    settles what same-second events left open."""

    type: Literal["PaymentObserved"] = "PaymentObserved"
    payment_intent_id: Id
    status: str
    amount_received: MinorUnits = 0
    amount_capturable: MinorUnits = 0
    charge_id: str | None = None
    next_action: dict[str, Any] | None = None
    decline_code: str | None = None
    failure_message: Text = ""


class CommandRejected(OrderFact):
    """The answer to a command that was invalid or illegal in the order's state."""

    type: Literal["CommandRejected"] = "CommandRejected"
    command_id: Id
    command_type: str
    code: str
    reason: Text = ""


class ReceiptIssued(OrderFact):
    type: Literal["ReceiptIssued"] = "ReceiptIssued"
    receipt_id: Id
    recipient: Literal["buyer", "seller"] = "buyer"
    seller_id: str | None = None
    url: str | None = None


class TransferMade(_MoneyFact):
    type: Literal["TransferMade"] = "TransferMade"
    transfer_id: Id
    seller_id: Id
    destination: str | None = None
    amount: MinorUnits


OrderEvent = Annotated[
    OrderCreated
    | PaymentIntentCreated
    | CheckoutSessionCreated
    | PaymentRequiresAuthentication
    | PaymentFailed
    | PaymentAuthorized
    | PaymentCaptured
    | PaymentCanceled
    | ProcessingFeeRecorded
    | OrderFulfilled
    | OrderCompleted
    | OrderCanceled
    | RefundRecorded
    | OrderRefunded
    | DisputeOpened
    | DisputeClosed
    | CaptureRequested
    | AuthorizationCancelRequested
    | CaptureFailed
    | CheckoutSessionExpireRequested
    | RefundRequested
    | PaymentAmountMismatch
    | PaymentRefreshRequested
    | PaymentObserved
    | CommandRejected
    | ReceiptIssued
    | TransferMade,
    Field(discriminator="type"),
]

CONTRACT: Contract[OrderFact] = Contract(OrderEvent)
