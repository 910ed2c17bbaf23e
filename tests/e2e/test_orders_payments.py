"""Orders end to end: commands in, Stripe's signed webhooks through ingest, state out of the API."""

from __future__ import annotations

import asyncio

import pytest
import stripe

from libs.common.contracts import orders_commands as oc
from libs.common.kafka.producer import KafkaProducer
from tests.e2e.system import Json, System, command, new_order

pytestmark = pytest.mark.e2e
TOTAL = 7150  # 2 x 12.50 + 2.50 tax, 40.00 + 4.00 tax


def paid(order: Json) -> bool:
    return order["status"] == "paid" and order["payment"]["status"] == "captured"


async def created(system: System, commands: KafkaProducer, **kwargs: object) -> oc.CreateOrder:
    order = new_order(**kwargs)  # type: ignore[arg-type]
    await system.send(commands, order)
    await system.wait_order(order.order_id, lambda o: o["status"] == "created")
    return order


async def authorized(system: System, commands: KafkaProducer) -> tuple[oc.CreateOrder, str]:
    """An order with manual capture whose payment is authorized, not captured, and the id of
    its PaymentIntent."""
    order = await created(system, commands, capture_method="manual")
    intent = await system.pay_intent(order.order_id)
    system.stripe.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})
    await system.wait_order(order.order_id, lambda o: o["payment"]["status"] == "authorized")
    return order, str(intent["id"])


async def test_order_created_by_command_and_paid_by_payment_intent(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)

    intent = await system.pay_intent(order.order_id)
    assert intent["amount"] == TOTAL and intent["currency"] == "usd"
    assert intent["client_secret"] and intent["customer"].startswith("cus_")
    system.stripe.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})

    done = await system.wait_order(
        order.order_id, lambda o: paid(o) and o["payment"]["processing_fee"] is not None
    )
    assert done["payment"]["captured"] == {"amount": TOTAL, "currency": "usd"}
    # Stripe's actual fee, from the charge's balance transaction: 2.9% + 0.30
    assert done["payment"]["processing_fee"] == {"amount": 237, "currency": "usd"}
    timeline = await system.timeline(order.order_id)
    kinds = [entry["kind"] for entry in timeline]
    assert kinds[0] == "OrderCreated" and "PaymentCaptured" in kinds
    captured = next(e for e in timeline if e["kind"] == "PaymentCaptured")
    assert (captured["from_status"], captured["to_status"]) == ("created", "paid")
    assert captured["cause"]["kind"] == "stripe_event"
    fees = (await system.request("GET", f"/orders/{order.order_id}/fees")).body
    assert fees["total"] == TOTAL and fees["processing_fee_estimated"] is False
    assert sum(s["gross"] for s in fees["sellers"]) == TOTAL


async def test_checkout_session_is_the_alternative_path(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)
    reply = await system.request(
        "POST", f"/orders/{order.order_id}/checkout-session", {}, {"Idempotency-Key": "cs-1"}
    )
    assert reply.status == 201, reply.body
    assert reply.body["url"] and reply.body["amount_total"] == TOTAL

    await system.emulator(f"/_emulator/checkout/sessions/{reply.body['id']}/complete")

    done = await system.wait_order(order.order_id, paid)
    assert done["payment"]["checkout_session_id"] == reply.body["id"]


async def test_3ds_requires_authentication_then_succeeds(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)
    intent = await system.pay_intent(order.order_id)
    confirmed = system.stripe.v1.payment_intents.confirm(
        intent["id"], {"payment_method": "pm_card_threeDSecure2Required"}
    )
    assert confirmed.status == "requires_action"

    waiting = await system.wait_order(
        order.order_id, lambda o: o["payment"]["status"] == "requires_authentication"
    )
    assert waiting["payment"]["next_action"] is not None

    await system.emulator(
        f"/_emulator/payment_intents/{intent['id']}/authenticate", {"outcome": "succeed"}
    )
    await system.wait_order(order.order_id, paid)


async def test_decline_is_shown_and_a_retry_succeeds(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)
    intent = await system.pay_intent(order.order_id)
    with pytest.raises(stripe.CardError):
        system.stripe.v1.payment_intents.confirm(
            intent["id"], {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
        )
    failed = await system.wait_order(order.order_id, lambda o: o["payment"]["status"] == "failed")
    assert failed["payment"]["decline_code"] == "insufficient_funds"
    assert failed["status"] == "created"

    system.stripe.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})
    done = await system.wait_order(order.order_id, paid)
    assert done["payment"]["failures"] == 1


async def test_manual_capture_captures_on_fulfilment(
    system: System, commands: KafkaProducer
) -> None:
    order, intent_id = await authorized(system, commands)

    await system.send(commands, command(oc.MarkFulfilled, order.order_id))

    done = await system.wait_order(order.order_id, lambda o: o["status"] == "fulfilled")
    assert done["payment"]["status"] == "captured"
    assert done["payment"]["captured"]["amount"] == TOTAL
    assert system.stripe.v1.payment_intents.retrieve(intent_id).status == "succeeded"


async def test_one_customer_per_buyer_under_concurrency(
    system: System, commands: KafkaProducer
) -> None:
    first = await created(system, commands, buyer_id="buyer_concurrent")
    second = await created(system, commands, buyer_id="buyer_concurrent")
    intents = await asyncio.gather(
        system.pay_intent(first.order_id), system.pay_intent(second.order_id)
    )
    assert intents[0]["customer"] == intents[1]["customer"]
    found = system.stripe.v1.customers.list({"email": "ada@example.com", "limit": 100})
    metadata = [c.to_dict().get("metadata") or {} for c in found.data]
    ours = [m for m in metadata if m.get("buyer_id") == "buyer_concurrent"]
    assert len(ours) == 1


async def test_post_endpoints_are_idempotent(system: System, commands: KafkaProducer) -> None:
    order = await created(system, commands)
    path = f"/orders/{order.order_id}/payment-intent"

    missing = await system.request("POST", path, {})
    assert missing.status == 400
    assert missing.body["error"]["code"] == "idempotency_key_required"

    first = await system.request("POST", path, {}, {"Idempotency-Key": "same"})
    again = await system.request("POST", path, {}, {"Idempotency-Key": "same"})
    assert first.status == again.status == 201
    assert first.body == again.body
    assert again.headers.get("Idempotent-Replayed") == "true"

    other = await system.request("POST", path, None, {"Idempotency-Key": "same"})
    assert other.status == 409
    assert other.body["error"]["code"] == "idempotency_conflict"

    unknown = await system.request(
        "POST", "/orders/ord_missing/payment-intent", {}, {"Idempotency-Key": "x"}
    )
    assert unknown.status == 404 and unknown.body["error"]["code"] == "order_not_found"


async def test_illegal_command_answered_with_command_rejected(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)
    complete = command(oc.CompleteOrder, order.order_id)
    await system.send(commands, complete)

    rejection = await system.find_fact(lambda fact: fact.get("command_id") == complete.command_id)
    assert rejection["type"] == "CommandRejected"
    assert rejection["code"] and rejection["reason"]
    still = await system.order(order.order_id)
    assert still is not None and still["status"] == "created"


async def test_worker_killed_and_restarted_serves_the_same_state(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)
    intent = await system.pay_intent(order.order_id)
    system.stripe.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})
    before = await system.wait_order(
        order.order_id, lambda o: paid(o) and o["payment"]["processing_fee"] is not None
    )

    system.restart_worker()

    # The new worker rebuilt the order from the table's changelog: it accepts a command that
    # is only legal for a paid order, and the state it serves is the one from before.
    await system.send(commands, command(oc.MarkFulfilled, order.order_id))
    after = await system.wait_order(order.order_id, lambda o: o["status"] == "fulfilled")
    assert after["payment"] == before["payment"]


async def test_authorization_never_captured_in_time_is_canceled(
    system: System, commands: KafkaProducer
) -> None:
    order, intent_id = await authorized(system, commands)

    # nobody fulfils it: past the window (15 s here) the worker cancels order and payment
    canceled = await system.wait_order(
        order.order_id, lambda o: o["status"] == "canceled", timeout=60
    )
    assert canceled["cancel_reason"] == "authorization expired before capture"
    await system.wait_order(order.order_id, lambda o: o["payment"]["status"] == "canceled")
    assert system.stripe.v1.payment_intents.retrieve(intent_id).status == "canceled"
    timeline = await system.timeline(order.order_id)
    canceled_entry = next(e for e in timeline if e["kind"] == "OrderCanceled")
    assert canceled_entry["actor"] == {"kind": "system", "id": "authorization-expiry"}
