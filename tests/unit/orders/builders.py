"""Builders for order commands, Stripe events (Stripe's JSON shape) and orders in each status."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from libs.common.contracts.orders_commands import (
    Actor,
    Buyer,
    CancelOrder,
    CaptureMethod,
    CompleteOrder,
    CreateOrder,
    LineItem,
    MarkFulfilled,
    OrderCommandBase,
    Shipping,
)
from libs.common.contracts.stripe_events import StripeEventReceived
from services.orders.domain.aggregate import handle_command, handle_stripe_event
from services.orders.domain.state import Order

ORDER = "ord_1"
T0 = 1_700_000_000
API = Actor(kind="api", id="backend")


def at(second: int) -> datetime:
    return datetime.fromtimestamp(T0 + second, UTC)


def create(
    command_id: str = "cmd_create", capture: CaptureMethod = "automatic", second: int = 0
) -> CreateOrder:
    return CreateOrder(
        command_id=command_id,
        order_id=ORDER,
        actor=API,
        issued_at=at(second),
        buyer=Buyer(id="buyer_1", email="ann@example.com", name="Ann"),
        currency="usd",
        items=(
            LineItem(sku="a", quantity=2, unit_amount=300, tax_amount=60, seller_id="s1"),
            LineItem(sku="b", quantity=1, unit_amount=200, tax_amount=20, seller_id="s2"),
        ),
        shipping=Shipping(amount=120),
        capture_method=capture,
    )


TOTAL = 2 * 300 + 60 + 200 + 20 + 120  # 1000


def fulfil(command_id: str = "cmd_fulfil", second: int = 1) -> MarkFulfilled:
    return MarkFulfilled(command_id=command_id, order_id=ORDER, actor=API, issued_at=at(second))


def complete(command_id: str = "cmd_complete", second: int = 2) -> CompleteOrder:
    return CompleteOrder(command_id=command_id, order_id=ORDER, actor=API, issued_at=at(second))


def cancel(command_id: str = "cmd_cancel", second: int = 1) -> CancelOrder:
    return CancelOrder(
        command_id=command_id,
        order_id=ORDER,
        actor=API,
        issued_at=at(second),
        reason="changed mind",
    )


def event(
    event_type: str,
    obj: dict[str, Any],
    second: int,
    event_id: str | None = None,
    request: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
) -> StripeEventReceived:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    body = {
        "id": event_id or f"evt_{event_type}_{second}",
        "object": "event",
        "type": event_type,
        "created": T0 + second,
        "data": data,
        "request": request or {"id": None, "idempotency_key": None},
    }
    return StripeEventReceived(
        event_id=body["id"],
        event_type=event_type,
        created=T0 + second,
        endpoint="platform",
        received_at=at(second),
        order_id=ORDER,
        event=body,
    )


def intent(status: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": TOTAL,
        "amount_received": 0,
        "amount_capturable": 0,
        "currency": "usd",
        "status": status,
        "metadata": {"order_id": ORDER},
    }
    return {**base, **fields}


def charge(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "ch_1",
        "object": "charge",
        "amount": TOTAL,
        "amount_captured": TOTAL,
        "amount_refunded": 0,
        "captured": True,
        "currency": "usd",
        "payment_intent": "pi_1",
        "balance_transaction": "txn_1",
        "metadata": {"order_id": ORDER},
    }
    return {**base, **fields}


def dispute(status: str, **fields: Any) -> dict[str, Any]:
    base = {
        "id": "dp_1",
        "object": "dispute",
        "amount": TOTAL,
        "charge": "ch_1",
        "currency": "usd",
        "reason": "fraudulent",
        "status": status,
    }
    return {**base, **fields}


def requires_action(second: int = 10, pi: str = "pi_1") -> StripeEventReceived:
    action = {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}
    return event(
        "payment_intent.requires_action",
        intent("requires_action", id=pi, next_action=action),
        second,
    )


def failed(second: int = 11, pi: str = "pi_1") -> StripeEventReceived:
    error = {"code": "card_declined", "decline_code": "insufficient_funds", "message": "Declined"}
    obj = intent("requires_payment_method", id=pi, last_payment_error=error)
    return event("payment_intent.payment_failed", obj, second)


def succeeded(second: int = 20, pi: str = "pi_1") -> StripeEventReceived:
    obj = intent("succeeded", id=pi, amount_received=TOTAL, latest_charge="ch_1")
    return event("payment_intent.succeeded", obj, second)


def charge_succeeded(second: int = 20, fee: int | None = 59) -> StripeEventReceived:
    txn: Any = "txn_1" if fee is None else {"id": "txn_1", "fee": fee, "currency": "usd"}
    return event("charge.succeeded", charge(balance_transaction=txn), second)


def capturable(second: int = 20) -> StripeEventReceived:
    obj = intent("requires_capture", amount_capturable=TOTAL, capture_method="manual")
    return event("payment_intent.amount_capturable_updated", obj, second)


def pi_canceled(second: int = 30, reason: str = "automatic") -> StripeEventReceived:
    obj = intent("canceled", cancellation_reason=reason)
    return event("payment_intent.canceled", obj, second)


def refunded(total: int, second: int, previous: int | None = None) -> StripeEventReceived:
    obj = charge(amount_refunded=total, refunded=total == TOTAL)
    prev = None if previous is None else {"amount_refunded": previous}
    return event("charge.refunded", obj, second, event_id=f"evt_refund_{total}", previous=prev)


def dispute_created(second: int = 50) -> StripeEventReceived:
    return event("charge.dispute.created", dispute("needs_response"), second)


def dispute_closed(status: str = "won", second: int = 60) -> StripeEventReceived:
    return event("charge.dispute.closed", dispute(status), second)


def run(
    messages: Iterable[OrderCommandBase | StripeEventReceived], state: Order | None = None
) -> Order | None:
    for message in messages:
        if isinstance(message, StripeEventReceived):
            state, _ = handle_stripe_event(state, message)
        else:
            state, _ = handle_command(state, message)
    return state


def must(state: Order | None) -> Order:
    assert state is not None
    return state


def order_in(status: str) -> Order | None:
    """An order brought to `status` through real commands and Stripe events."""
    paths: dict[str, list[Any]] = {
        "none": [],
        "created": [create()],
        "authorized": [create(capture="manual"), capturable()],
        "paid": [create(), succeeded()],
        "fulfilled": [create(), succeeded(), fulfil(second=21)],
        "completed": [create(), succeeded(), fulfil(second=21), complete(second=22)],
        "canceled": [create(), cancel()],
        "refunded": [create(), succeeded(), refunded(TOTAL, 30)],
        "disputed": [create(), succeeded(), dispute_created()],
    }
    return run(paths[status])


def published_history() -> list[Any]:
    """Every fact a full life of an order publishes, for contract round trips."""
    from libs.common.contracts.orders_events import OrderFact

    published: list[OrderFact] = []
    state: Order | None = None
    manual: list[OrderCommandBase | StripeEventReceived] = [
        create(capture="manual"),
        capturable(20),
        fulfil(second=21),
    ]
    tail: list[OrderCommandBase | StripeEventReceived] = [
        event("payment_intent.succeeded", intent("succeeded", amount_received=TOTAL), 25),
        charge_succeeded(25),
        refunded(300, 30, previous=0),
        refunded(TOTAL, 40, previous=300),
        requires_action(41),
        failed(42),
        dispute_created(50),
        dispute_closed("won", 60),
    ]
    messages: list[OrderCommandBase | StripeEventReceived] = [*manual, *tail]
    for message in messages:
        if isinstance(message, StripeEventReceived):
            state, facts = handle_stripe_event(state, message)
        else:
            state, facts = handle_command(state, message)
        published.extend(facts)
    return published
