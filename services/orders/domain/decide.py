"""`decide(state, command) -> facts`: what a backend command means for an order, or why not.

Commands are checked against the current state and refused with a typed `DomainError`
(the handler turns it into `CommandRejected`). A command already applied (same command id)
decides nothing, so a redelivered command is harmless. A command's facts are stamped no
earlier than the last fact the order had when it was decided, so that in the sorted fact
log a transition never appears before the facts that allowed it.
"""

from __future__ import annotations

from datetime import datetime

from libs.common.contracts.orders_commands import (
    CancelOrder,
    CompleteOrder,
    CreateOrder,
    MarkFulfilled,
    OrderCommandBase,
)
from libs.common.contracts.orders_events import (
    CaptureRequested,
    Cause,
    CommandRejected,
    OrderCanceled,
    OrderCompleted,
    OrderCreated,
    OrderFact,
    OrderFulfilled,
)
from services.orders.domain.errors import (
    CapturePending,
    DomainError,
    IllegalTransition,
    InvalidCommand,
    NothingToRefund,
    OrderAlreadyExists,
    PaymentNotCaptured,
    RefundExceedsCaptured,
    UnknownOrder,
)
from services.orders.domain.idempotency import idempotency_key
from services.orders.domain.state import Order

OrderFacts = list[OrderFact]


def decide(state: Order | None, command: OrderCommandBase) -> OrderFacts:
    """The facts `command` produces on `state`; raises a `DomainError` when it may not."""
    if isinstance(command, CreateOrder):
        return _create(state, command)
    if state is None:
        raise UnknownOrder(f"order {command.order_id} does not exist", order_id=command.order_id)
    if command.command_id in state.seen:
        return []
    if isinstance(command, MarkFulfilled):
        return _fulfil(state, command)
    if isinstance(command, CompleteOrder):
        _require(state, command, ("fulfilled",))
        return [OrderCompleted(**_base(state, command))]
    if isinstance(command, CancelOrder):
        return _cancel(state, command)
    raise InvalidCommand(f"unknown command {type(command).__name__}", order_id=command.order_id)


def rejected(command: OrderCommandBase, error: DomainError, now: datetime) -> CommandRejected:
    """The answer to a refused command, published so that it is never dropped in silence."""
    return CommandRejected(
        order_id=command.order_id,
        cause=Cause(kind="command", id=command.command_id),
        actor=command.actor,
        occurred_at=now,
        command_id=command.command_id,
        command_type=getattr(command, "type", type(command).__name__),
        code=error.code,
        reason=error.message[:2000],
    )


def check_refund(state: Order, amount: int | None) -> int:
    """The amount a refund request may take (all that is left when `amount` is None)."""
    left = state.refundable.amount
    if left == 0:
        raise NothingToRefund(f"order {state.order_id} has nothing left to refund")
    if amount is None:
        return left
    if amount <= 0 or amount > left:
        raise RefundExceedsCaptured(
            f"refund of {state.money(amount).format()} exceeds the refundable "
            f"{state.refundable.format()}",
            order_id=state.order_id,
        )
    return amount


def _base(state: Order, command: OrderCommandBase) -> dict[str, object]:
    return {
        "order_id": state.order_id,
        "cause": Cause(kind="command", id=command.command_id),
        "actor": command.actor,
        "occurred_at": max(command.issued_at, state.last_fact_at),
    }


def _require(state: Order, command: OrderCommandBase, allowed: tuple[str, ...]) -> None:
    if state.status not in allowed:
        name = getattr(command, "type", type(command).__name__)
        raise IllegalTransition(
            f"{name} is not allowed on an order that is {state.status}",
            order_id=state.order_id,
            status=state.status,
        )


def _create(state: Order | None, command: CreateOrder) -> OrderFacts:
    if state is not None:
        if command.command_id in state.seen:
            return []
        raise OrderAlreadyExists(
            f"order {command.order_id} already exists", order_id=state.order_id
        )
    if command.total == 0:
        raise InvalidCommand("an order must cost something to be paid", order_id=command.order_id)
    created = OrderCreated(
        order_id=command.order_id,
        cause=Cause(kind="command", id=command.command_id),
        actor=command.actor,
        occurred_at=command.issued_at,
        currency=command.currency,
        buyer=command.buyer,
        items=command.items,
        shipping=command.shipping,
        capture_method=command.capture_method,
        total=command.total,
        to_status="created",
    )
    return [created]


def _fulfil(state: Order, command: MarkFulfilled) -> OrderFacts:
    """Fulfilling a paid order is immediate; an authorized one is captured first."""
    if state.status == "paid":
        return [OrderFulfilled(**_base(state, command), note=command.note)]
    if state.status == "created" and state.payment.status == "authorized":
        if state.pending_fulfilment is not None:
            raise CapturePending(
                "the capture for this fulfilment is under way", order_id=state.order_id
            )
        intent = state.payment.payment_intent_id or ""
        capture = CaptureRequested(
            **_base(state, command),
            currency=state.currency,
            payment_intent_id=intent,
            amount=state.payment.authorized,
            # One key per fulfilment request: after a refused capture (`CaptureFailed`) the
            # next request must reach Stripe, not Stripe's stored answer to the last one.
            idempotency_key=idempotency_key(state.order_id, "capture", intent, command.command_id),
        )
        return [capture]
    if state.status == "created":
        raise PaymentNotCaptured(
            f"order {state.order_id} is not paid yet (payment {state.payment.status})",
            order_id=state.order_id,
            status=state.status,
        )
    _require(state, command, ("paid",))
    return []


def _cancel(state: Order, command: CancelOrder) -> OrderFacts:
    """Cancel an unpaid order. Closing its payment attempts at Stripe follows as a reaction
    (`reactions`), so that an attempt the order learns of only after the cancel is closed too."""
    _require(state, command, ("created",))
    return [OrderCanceled(**_base(state, command), reason=command.reason)]
