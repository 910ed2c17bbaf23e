"""Contracts of orders.commands and orders.events: round trips, strict amounts, tolerance."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from libs.common.contracts import orders_commands, orders_events
from libs.common.contracts.envelope import ContractError, Envelope, Message
from libs.common.contracts.orders_commands import Actor, Buyer, CreateOrder, LineItem
from libs.common.contracts.orders_events import (
    CaptureFailed,
    Cause,
    CheckoutSessionExpireRequested,
    CommandRejected,
    PaymentAmountMismatch,
    PaymentObserved,
    PaymentRefreshRequested,
    ReceiptIssued,
    RefundRequested,
    TransferMade,
)

from .builders import (
    at,
    cancel,
    complete,
    create,
    fulfil,
    published_history,
)


def round_trip(contract: Any, payload: Message) -> Message:
    raw = contract.encode(Envelope(producer="test", correlation_id="ord_1", payload=payload))
    decoded = contract.decode(raw)
    assert decoded.payload == payload
    return decoded.payload


@pytest.mark.parametrize("make", [create, fulfil, complete, cancel])
def test_commands_round_trip(make: Any) -> None:
    round_trip(orders_commands.CONTRACT, make())


def sample_facts() -> list[orders_events.OrderFact]:
    base: dict[str, Any] = {
        "order_id": "ord_1",
        "cause": Cause(kind="command", id="c"),
        "actor": Actor(kind="system"),
        "occurred_at": at(1),
    }
    extra = [
        CommandRejected(**base, command_id="c", command_type="CancelOrder", code="x"),
        ReceiptIssued(**base, receipt_id="r1"),
        TransferMade(**base, transfer_id="tr_1", seller_id="s1", amount=5, currency="usd"),
        CaptureFailed(**base, payment_intent_id="pi_1", code="x", message="m"),
        CheckoutSessionExpireRequested(**base, checkout_session_id="cs_1"),
        RefundRequested(
            **base, currency="usd", payment_intent_id="pi_1", amount=5,
            reason="order_canceled", idempotency_key="k",
        ),
        PaymentAmountMismatch(
            **base, currency="usd", payment_intent_id="pi_1", kind="short",
            expected_amount=10, actual_amount=5, actual_currency="usd",
        ),
        PaymentRefreshRequested(**base, payment_intent_id="pi_1", second=at(1)),
        PaymentObserved(
            **base, currency="usd", payment_intent_id="pi_1", status="requires_action",
            next_action={"type": "use_stripe_sdk"},
        ),
    ]  # fmt: skip
    return published_history() + extra


def test_every_event_type_round_trips() -> None:
    facts = sample_facts()
    for fact in facts:
        round_trip(orders_events.CONTRACT, fact)
    union = get_args(get_args(orders_events.OrderEvent)[0])
    names = {t.__name__ for t in union}
    missing = names - {type(f).__name__ for f in facts}
    assert missing <= {
        "OrderCompleted", "OrderCanceled", "PaymentCanceled", "CheckoutSessionCreated",
        "PaymentIntentCreated", "AuthorizationCancelRequested", "ProcessingFeeRecorded",
    }  # fmt: skip


def encoded_create() -> dict[str, Any]:
    raw = orders_commands.CONTRACT.encode(Envelope(producer="t", payload=create()))
    return json.loads(raw)


def test_floats_are_refused() -> None:
    body = encoded_create()
    body["payload"]["items"][0]["unit_amount"] = 300.0
    with pytest.raises(ContractError):
        orders_commands.CONTRACT.decode(json.dumps(body).encode())
    with pytest.raises(ValidationError):
        LineItem(sku="a", quantity=1, unit_amount=1.5, seller_id="s")


def test_unknown_fields_are_tolerated() -> None:
    body = encoded_create()
    body["payload"]["gift_wrap"] = True
    body["payload"]["items"][0]["colour"] = "red"
    body["newer_envelope_field"] = 1
    decoded = orders_commands.CONTRACT.decode(json.dumps(body).encode())
    assert decoded.payload == create()


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.update(type="DeleteEverything"),
        lambda p: p.update(items=[]),
        lambda p: p["items"][0].update(quantity=0),
        lambda p: p["items"][0].update(unit_amount=-1),
        lambda p: p.update(currency="dollars"),
        lambda p: p.update(order_id="  "),
        lambda p: p["buyer"].update(email="nope"),
        lambda p: p.update(capture_method="later"),
        lambda p: p["actor"].update(kind="robot"),
        lambda p: p.pop("command_id"),
    ],
)
def test_bad_commands_are_contract_errors(change: Any) -> None:
    body = encoded_create()
    change(body["payload"])
    with pytest.raises(ContractError):
        orders_commands.CONTRACT.decode(json.dumps(body).encode())


def test_garbage_is_a_contract_error() -> None:
    for raw in (b"not json", b"{}", None):
        with pytest.raises(ContractError):
            orders_events.CONTRACT.decode(raw)


def test_currency_is_normalized() -> None:
    order = CreateOrder(
        command_id="c", order_id="o", actor=Actor(kind="buyer", id="b"),
        buyer=Buyer(id="b", email="b@example.com"), currency=" JPY ",
        items=(LineItem(sku="x", quantity=1, unit_amount=100, seller_id="s"),),
    )  # fmt: skip
    assert order.currency == "jpy"
