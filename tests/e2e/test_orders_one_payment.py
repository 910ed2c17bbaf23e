"""One live payment per order, end to end: a second attempt cancels the first at Stripe, or is
refused while the first may be moving money; a PaymentIntent and a Checkout Session on one
order never both capture."""

from __future__ import annotations

import pytest
import stripe

from libs.common.kafka.producer import KafkaProducer
from tests.e2e.system import (
    System,
    intents_at_stripe,
    sessions_at_stripe,
    start_checkout,
)
from tests.e2e.test_orders_payments import TOTAL, created, paid

pytestmark = pytest.mark.e2e


def succeeded(system: System, order_id: str) -> list[str]:
    return [i["id"] for i in intents_at_stripe(system, order_id) if i["status"] == "succeeded"]


async def test_checkout_after_a_payment_intent_cancels_it_and_only_checkout_captures(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)
    intent = await system.pay_intent(order.order_id)

    session = await start_checkout(system, order.order_id)

    assert session.status == 201, session.body
    assert system.stripe.v1.payment_intents.retrieve(intent["id"]).status == "canceled"
    with pytest.raises(stripe.InvalidRequestError):
        system.stripe.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})
    await system.emulator(f"/_emulator/checkout/sessions/{session.body['id']}/complete")
    done = await system.wait_order(order.order_id, paid)
    assert done["payment"]["captured"] == {"amount": TOTAL, "currency": "usd"}
    assert done["payment"]["checkout_session_id"] == session.body["id"]
    assert len(succeeded(system, order.order_id)) == 1


async def test_checkout_while_a_payment_intent_holds_money_is_refused_and_creates_nothing(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands, capture_method="manual")
    intent = await system.pay_intent(order.order_id)
    system.stripe.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})
    assert system.stripe.v1.payment_intents.retrieve(intent["id"]).status == "requires_capture"

    refused = await start_checkout(system, order.order_id)

    assert refused.status == 409, refused.body
    assert refused.body["error"]["code"] == "payment_in_progress"
    assert refused.body["error"]["attempt_id"] == intent["id"]
    assert sessions_at_stripe(system, order.order_id) == []
    assert system.stripe.v1.payment_intents.retrieve(intent["id"]).status == "requires_capture"
    # Once the worker knows of the authorization too, the answer is the same.
    await system.wait_order(order.order_id, lambda o: o["payment"]["status"] == "authorized")
    again = await system.request(
        "POST", f"/orders/{order.order_id}/payment-intent", {}, {"Idempotency-Key": "pi-again"}
    )
    assert again.status == 409 and again.body["error"]["code"] == "payment_in_progress"
    assert again.body["error"]["attempt_id"] == intent["id"]


async def test_payment_intent_plus_checkout_on_one_order_never_captures_twice(
    system: System, commands: KafkaProducer
) -> None:
    # Checkout first, then a PaymentIntent: the session is expired before the intent exists.
    order = await created(system, commands)
    session = await start_checkout(system, order.order_id)
    intent = await system.pay_intent(order.order_id)

    assert system.stripe.v1.checkout.sessions.retrieve(session.body["id"]).status == "expired"
    completed = await system.request(
        "POST",
        f"/_emulator/checkout/sessions/{session.body['id']}/complete",
        {},
        base=system.emulator_url,
    )
    assert completed.status == 400  # the buyer can no longer pay on that page
    system.stripe.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})
    await system.wait_order(order.order_id, paid)
    assert succeeded(system, order.order_id) == [intent["id"]]


async def test_a_repeat_gets_the_same_open_attempt_and_a_canceled_one_a_new_one(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)
    path = f"/orders/{order.order_id}/payment-intent"
    first = await system.pay_intent(order.order_id)

    repeat = await system.request("POST", path, {}, {"Idempotency-Key": "pi-repeat"})
    assert repeat.status == 200 and repeat.body["id"] == first["id"]

    system.stripe.v1.payment_intents.cancel(first["id"])
    fresh = await system.pay_intent(order.order_id)
    assert fresh["id"] != first["id"]
    metadata = system.stripe.v1.payment_intents.retrieve(fresh["id"]).to_dict()["metadata"]
    assert metadata["attempt"] == "2" and metadata["leg"] == "payment-intent"
    assert len(intents_at_stripe(system, order.order_id)) == 2


async def test_a_payment_intent_whose_creation_was_never_recorded_is_found_not_made_again(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)
    # Given the first try's PaymentIntent: Stripe made it, but our answer and record were lost
    # (and its idempotency key is long forgotten)
    lost = system.stripe.v1.payment_intents.create(
        {
            "amount": TOTAL,
            "currency": "usd",
            "metadata": {"order_id": order.order_id, "attempt": "1", "leg": "payment-intent"},
        },
        {"idempotency_key": f"forgotten-{order.order_id}"},
    )

    reply = await system.request(
        "POST", f"/orders/{order.order_id}/payment-intent", {}, {"Idempotency-Key": "pi-lost"}
    )

    assert reply.status == 200 and reply.body["id"] == lost.id
    assert [i["id"] for i in intents_at_stripe(system, order.order_id)] == [lost.id]
    # and the order learns of it, as if the first try had recorded it
    system.stripe.v1.payment_intents.confirm(lost.id, {"payment_method": "pm_card_visa"})
    done = await system.wait_order(order.order_id, paid)
    assert done["payment"]["payment_intent_id"] == lost.id
