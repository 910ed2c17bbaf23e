"""Money end to end: each real change is one fact, a canceled order keeps no money, a capture
Stripe refuses does not leave the order waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import stripe

from libs.common.contracts import orders_commands as oc
from libs.common.kafka.producer import KafkaProducer
from tests.e2e.system import Json, System, command, start_checkout
from tests.e2e.test_orders_payments import TOTAL, authorized, created, paid

pytestmark = pytest.mark.e2e
SLOW_WEBHOOKS = {"webhooks": {"delay_ms": 5000}}
"""Long enough for a command to overtake the webhooks of what the buyer did just before."""


@pytest.fixture
async def faults(system: System) -> AsyncIterator[None]:
    yield
    await system.emulator("/_emulator/faults", {})


def of_type(facts: list[Json], kind: str) -> list[Json]:
    return [f for f in facts if f["type"] == kind]


async def test_each_capture_and_fee_is_published_once(
    system: System, commands: KafkaProducer
) -> None:
    # given an order paid by PaymentIntent; Stripe tells the capture by several events
    order = await created(system, commands)
    intent = await system.pay_intent(order.order_id)
    system.stripe.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})
    await system.wait_order(
        order.order_id, lambda o: paid(o) and o["payment"]["processing_fee"] is not None
    )
    # then orders.events holds one PaymentCaptured and one ProcessingFeeRecorded, with ids
    facts = await system.facts_of(order.order_id)
    assert len(of_type(facts, "PaymentCaptured")) == 1
    assert len(of_type(facts, "ProcessingFeeRecorded")) == 1
    ids = [f["fact_id"] for f in facts]
    assert all(ids) and len(set(ids)) == len(ids)


async def test_checkout_capture_is_published_once(system: System, commands: KafkaProducer) -> None:
    order = await created(system, commands)
    reply = await start_checkout(system, order.order_id)
    assert reply.status == 201, reply.body
    await system.emulator(f"/_emulator/checkout/sessions/{reply.body['id']}/complete")
    await system.wait_order(
        order.order_id, lambda o: paid(o) and o["payment"]["processing_fee"] is not None
    )
    facts = await system.facts_of(order.order_id)
    assert len(of_type(facts, "PaymentCaptured")) == 1


async def test_a_payment_that_beats_the_cancel_is_refunded(
    system: System, commands: KafkaProducer, faults: None
) -> None:
    # given an order whose buyer pays while Stripe's webhooks are slow
    order = await created(system, commands)
    intent = await system.pay_intent(order.order_id)
    await system.emulator("/_emulator/faults", SLOW_WEBHOOKS)
    system.stripe.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})
    # when the backend cancels the order before the worker heard of the payment
    await system.send(commands, command(oc.CancelOrder, order.order_id, reason="out of stock"))
    await system.wait_order(order.order_id, lambda o: o["status"] == "canceled")
    # then the payment, once known, is refunded in full, and the order stays canceled
    done = await system.wait_order(
        order.order_id, lambda o: o["payment"]["refunded"]["amount"] == TOTAL, timeout=60
    )
    assert done["status"] == "canceled"
    refunds = system.stripe.v1.refunds.list({"payment_intent": intent["id"]}).data
    assert [r.amount for r in refunds] == [TOTAL]
    kinds = [e["kind"] for e in await system.timeline(order.order_id)]
    assert kinds.index("OrderCanceled") < kinds.index("RefundRequested")
    assert "PaymentCaptured" in kinds and "RefundRecorded" in kinds


async def test_cancel_closes_an_open_checkout_session(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)
    reply = await start_checkout(system, order.order_id)
    assert reply.status == 201, reply.body
    await system.send(commands, command(oc.CancelOrder, order.order_id, reason="changed mind"))
    await system.wait_order(order.order_id, lambda o: o["status"] == "canceled")
    await system.find_fact(
        lambda f: (
            f.get("order_id") == order.order_id and f["type"] == "CheckoutSessionExpireRequested"
        )
    )
    session_id = reply.body["id"]
    for _ in range(100):
        if system.stripe.v1.checkout.sessions.retrieve(session_id).status == "expired":
            break
        await asyncio.sleep(0.2)
    assert system.stripe.v1.checkout.sessions.retrieve(session_id).status == "expired"


async def test_a_capture_stripe_refuses_is_a_fact_not_a_stall(
    system: System, commands: KafkaProducer, faults: None
) -> None:
    # given an authorized order whose hold is canceled in the dashboard, webhooks slow
    order, intent_id = await authorized(system, commands)
    await system.emulator("/_emulator/faults", SLOW_WEBHOOKS)
    system.stripe.v1.payment_intents.cancel(intent_id)
    # when the seller fulfils it before the worker heard of the cancel
    await system.send(commands, command(oc.MarkFulfilled, order.order_id))
    # then Stripe's refusal is on the order as CaptureFailed, with Stripe's reason
    failed = await system.find_fact(
        lambda f: f.get("order_id") == order.order_id and f["type"] == "CaptureFailed"
    )
    assert failed["payment_intent_id"] == intent_id and failed["code"]
    # and the order moves on when Stripe's word arrives: the hold is gone, so it is canceled
    await system.wait_order(order.order_id, lambda o: o["status"] == "canceled", timeout=60)


async def _decline_then_challenge_in_one_second(
    system: System, commands: KafkaProducer
) -> tuple[str, str]:
    """An order whose PaymentIntent is declined and challenged again within one second (by
    Stripe's clock); retried on a new order when the second turned between the two."""
    for _ in range(5):
        order = await created(system, commands)
        intent = await system.pay_intent(order.order_id)
        with pytest.raises(stripe.CardError):
            system.stripe.v1.payment_intents.confirm(
                intent["id"], {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"}
            )
        system.stripe.v1.payment_intents.confirm(
            intent["id"], {"payment_method": "pm_card_threeDSecure2Required"}
        )
        events = [e.to_dict() for e in system.stripe.v1.events.list({"limit": 20}).data]
        seconds = {
            e["created"]
            for e in events
            if e["data"]["object"].get("id") == intent["id"]
            and e["type"] in ("payment_intent.payment_failed", "payment_intent.requires_action")
        }
        if len(seconds) == 1:
            return order.order_id, str(intent["id"])
    raise AssertionError("the two confirmations never fell in one second")


async def test_same_second_events_end_in_stripe_s_state(
    system: System, commands: KafkaProducer, faults: None
) -> None:
    # given Stripe's events delivered shuffled
    await system.emulator("/_emulator/faults", {"webhooks": {"shuffle_window": 4}})
    # when a decline and the retry's 3-D Secure challenge happen in one second
    order_id, intent_id = await _decline_then_challenge_in_one_second(system, commands)
    # then the order read the PaymentIntent again and shows the challenge, not the decline
    await system.find_fact(
        lambda f: f.get("order_id") == order_id and f["type"] == "PaymentObserved"
    )
    done = await system.wait_order(
        order_id, lambda o: o["payment"]["status"] == "requires_authentication"
    )
    assert done["payment"]["next_action"] is not None
    assert system.stripe.v1.payment_intents.retrieve(intent_id).status == "requires_action"
