"""Stripe delivers duplicates and out of order; the order must end the same either way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from libs.common.kafka.producer import KafkaProducer
from tests.e2e.system import Json, System, new_order

pytestmark = pytest.mark.e2e


async def _history(system: System, commands: KafkaProducer) -> tuple[Json, list[tuple[Any, ...]]]:
    """3DS payment, a partial refund from the dashboard, a dispute that the seller wins."""
    order = new_order()
    await system.send(commands, order)
    await system.wait_order(order.order_id, lambda o: o["status"] == "created")
    intent = await system.pay_intent(order.order_id)
    system.stripe.v1.payment_intents.confirm(
        intent["id"], {"payment_method": "pm_card_threeDSecure2Required"}
    )
    await system.emulator(
        f"/_emulator/payment_intents/{intent['id']}/authenticate", {"outcome": "succeed"}
    )
    paid = await system.wait_order(
        order.order_id,
        lambda o: o["status"] == "paid" and o["payment"]["processing_fee"] is not None,
    )
    charge = paid["payment"]["charge_id"]
    system.stripe.v1.refunds.create({"charge": charge, "amount": 1000, "reason": "duplicate"})
    await system.wait_order(order.order_id, lambda o: o["payment"]["refunded"]["amount"] == 1000)
    dispute = await system.emulator(
        f"/_emulator/charges/{charge}/dispute", {"reason": "fraudulent"}
    )
    await system.wait_order(order.order_id, lambda o: o["status"] == "disputed")
    await system.emulator(f"/_emulator/disputes/{dispute['id']}/close", {"outcome": "won"})
    final = await system.wait_order(
        order.order_id, lambda o: o["dispute"] is not None and o["dispute"]["outcome"] == "won"
    )
    timeline = await system.timeline(order.order_id)
    shape = [
        (e["kind"], e["from_status"], e["to_status"], e["payment_status"], e["cause"]["kind"])
        for e in timeline
    ]
    return final, shape


def _comparable(order: Json) -> Json:
    payment = dict(order["payment"])
    for volatile in ("payment_intent_id", "charge_id"):
        payment.pop(volatile)
    return {
        "status": order["status"],
        "payment": payment,
        "dispute_outcome": order["dispute"]["outcome"],
        "total": order["total"],
    }


@pytest.fixture
async def faults(system: System) -> AsyncIterator[None]:
    yield
    await system.emulator("/_emulator/faults", {})


async def test_duplicated_and_shuffled_deliveries_end_like_in_order_delivery(
    system: System, commands: KafkaProducer, faults: None
) -> None:
    in_order, in_order_timeline = await _history(system, commands)

    await system.emulator("/_emulator/faults", {"webhooks": {"duplicate": 2, "shuffle_window": 6}})
    faulty, faulty_timeline = await _history(system, commands)

    assert _comparable(faulty) == _comparable(in_order)
    assert faulty_timeline == in_order_timeline
    kinds = [entry[0] for entry in faulty_timeline]
    assert kinds.count("PaymentCaptured") == 1 and kinds.count("RefundRecorded") == 1
    assert kinds.count("DisputeOpened") == 1 and kinds.count("DisputeClosed") == 1
