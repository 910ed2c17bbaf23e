"""Every command against every status: the legal ones move the order, the others are refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from libs.common.contracts.orders_commands import LineItem, OrderCommandBase
from libs.common.contracts.orders_events import (
    CaptureRequested,
    CommandRejected,
    OrderCanceled,
    OrderCompleted,
    OrderCreated,
    OrderFulfilled,
)
from services.orders.domain import errors
from services.orders.domain.aggregate import handle_command
from services.orders.domain.decide import check_refund, decide

from .builders import TOTAL, cancel, complete, create, fulfil, order_in

COMMANDS: dict[str, Callable[[], OrderCommandBase]] = {
    "create": lambda: create(command_id="cmd_new", second=40),
    "fulfil": lambda: fulfil(command_id="cmd_new", second=40),
    "complete": lambda: complete(command_id="cmd_new", second=40),
    "cancel": lambda: cancel(command_id="cmd_new", second=40),
}
STATUSES = [
    "none", "created", "authorized", "paid", "fulfilled",
    "completed", "canceled", "refunded", "disputed",
]  # fmt: skip

# (status, command) -> (fact types, status after) for legal moves, or the error raised.
LEGAL = {
    ("none", "create"): ([OrderCreated], "created"),
    ("created", "cancel"): ([OrderCanceled], "canceled"),
    ("authorized", "fulfil"): ([CaptureRequested], "created"),
    ("authorized", "cancel"): ([OrderCanceled], "canceled"),
    ("paid", "fulfil"): ([OrderFulfilled], "fulfilled"),
    ("fulfilled", "complete"): ([OrderCompleted], "completed"),
}


def expected_error(status: str, command: str) -> type[errors.DomainError]:
    if status == "none":
        return errors.UnknownOrder
    if command == "create":
        return errors.OrderAlreadyExists
    if (status, command) == ("created", "fulfil"):
        return errors.PaymentNotCaptured
    return errors.IllegalTransition


MATRIX = [(s, c) for s in STATUSES for c in COMMANDS]


@pytest.mark.parametrize(("status", "command"), MATRIX)
def test_every_command_in_every_status(status: str, command: str) -> None:
    # given an order in `status`
    state = order_in(status)
    assert status == "none" or state is not None
    if state is not None and status != "authorized":
        assert state.status == status
    cmd = COMMANDS[command]()
    if (status, command) in LEGAL:
        types, after = LEGAL[status, command]
        # when the command is legal, then it decides the expected facts and moves the order
        facts = decide(state, cmd)
        assert [type(f) for f in facts] == types
        new_state, published = handle_command(state, cmd)
        assert new_state is not None and new_state.status == after
        assert published[0].from_status == (state.status if state else None)
        assert published[0].to_status == after
    else:
        # when it is illegal, then a typed error names why and the handler publishes it
        error = expected_error(status, command)
        with pytest.raises(error):
            decide(state, cmd)
        new_state, published = handle_command(state, cmd)
        assert new_state is state
        assert len(published) == 1 and isinstance(published[0], CommandRejected)
        assert published[0].code == error.code and published[0].command_id == "cmd_new"


@pytest.mark.parametrize("status", STATUSES[1:])
def test_a_redelivered_command_changes_nothing(status: str) -> None:
    state = order_in(status)
    assert state is not None
    for command_id in state.seen & {"cmd_create", "cmd_fulfil", "cmd_complete", "cmd_cancel"}:
        for make in COMMANDS.values():
            again = make().model_copy(update={"command_id": command_id})
            assert handle_command(state, again) == (state, [])


def test_a_second_fulfilment_while_the_capture_is_pending_is_refused() -> None:
    state = order_in("authorized")
    state, _ = handle_command(state, fulfil())
    with pytest.raises(errors.CapturePending):
        decide(state, fulfil(command_id="cmd_other", second=5))


def test_an_order_that_costs_nothing_is_refused() -> None:
    item = LineItem(sku="gift", quantity=1, unit_amount=0, seller_id="s1")
    free = create().model_copy(update={"items": (item,), "shipping": None})
    with pytest.raises(errors.InvalidCommand):
        decide(None, free)


def test_refund_guard() -> None:
    paid = order_in("paid")
    assert paid is not None
    assert check_refund(paid, None) == TOTAL
    assert check_refund(paid, 100) == 100
    with pytest.raises(errors.RefundExceedsCaptured):
        check_refund(paid, TOTAL + 1)
    created = order_in("created")
    assert created is not None
    with pytest.raises(errors.NothingToRefund):
        check_refund(created, 1)


def test_command_facts_never_sort_before_what_they_were_decided_on() -> None:
    # given a payment whose Stripe time is later than the backend's clock on the fulfilment
    paid = order_in("paid")
    assert paid is not None
    facts = decide(paid, fulfil(second=5))
    assert facts[0].occurred_at >= paid.last_fact_at
