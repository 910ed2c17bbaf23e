"""No record stalls the worker: a record PostgreSQL refuses at commit and a Stripe event the
domain cannot read each end on the DLQ with reason, type and attempts, while the next order
on the same partition completes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from libs.common.contracts import stripe_events
from libs.common.contracts.envelope import Envelope
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import ORDERS_COMMANDS, STRIPE_EVENTS
from tests.e2e.system import System, dead_letter_headers, new_order, same_partition_order

pytestmark = pytest.mark.e2e


@pytest.fixture
async def refused_prefix(system: System) -> AsyncIterator[str]:
    """An order id prefix PostgreSQL itself refuses: a real CHECK on the read model."""
    prefix = f"poison-{uuid.uuid4().hex[:10]}"
    name = f"refuse_{prefix.replace('-', '_')}"
    conn = await asyncpg.connect(system.env["DATABASE_URL"])
    await conn.execute(
        f"ALTER TABLE orders_view ADD CONSTRAINT {name} "
        f"CHECK (order_id NOT LIKE '{prefix}%') NOT VALID"
    )
    try:
        yield prefix
    finally:
        await conn.execute(f"ALTER TABLE orders_view DROP CONSTRAINT {name}")
        await conn.close()


async def test_a_record_that_breaks_the_commit_is_dead_lettered_and_the_rest_commit(
    system: System, commands: KafkaProducer, refused_prefix: str
) -> None:
    # given a CreateOrder PostgreSQL refuses, and right behind it one on the same partition
    poison = new_order()
    poison = poison.model_copy(update={"order_id": f"{refused_prefix}-{uuid.uuid4().hex[:6]}"})
    after = same_partition_order(poison.order_id)
    await system.send(commands, poison)
    await system.send(commands, after)
    # then the next order completes, and the culprit is on the DLQ with why and how often
    await system.wait_order(after.order_id, lambda o: o["status"] == "created", timeout=90)
    headers = await dead_letter_headers(system.env, ORDERS_COMMANDS, poison.order_id)
    assert headers["dlq.error_type"] == "CheckViolationError"
    assert headers["dlq.attempts"] == "3"
    assert refused_prefix.replace("-", "_") in headers["dlq.reason"]
    # and nothing about it was published: the batch writes PostgreSQL before the broker
    assert await system.facts_of(poison.order_id) == []
    assert await system.order(poison.order_id) is None


def _unreadable_event(order_id: str) -> Envelope[Any]:
    event_id = f"evt_{uuid.uuid4().hex[:12]}"
    payload = stripe_events.StripeEventReceived(
        event_id=event_id,
        event_type="payment_intent.succeeded",
        created=1_700_000_000,
        endpoint="platform",
        received_at=datetime.now(UTC),
        order_id=order_id,
        # no `created`, no object id: the domain cannot read it
        event={"id": event_id, "type": "payment_intent.succeeded", "data": {"object": {}}},
    )
    return Envelope(producer="tests", correlation_id=order_id, payload=payload)


async def test_an_unreadable_stripe_event_is_dead_lettered_and_the_partition_moves_on(
    system: System, commands: KafkaProducer
) -> None:
    # given an order, an event about it the domain cannot read, then a new order behind it
    first = new_order()
    await system.send(commands, first)
    await system.wait_order(first.order_id, lambda o: o["status"] == "created")
    await commands.send(
        system.names.name(STRIPE_EVENTS),
        stripe_events.CONTRACT.encode(_unreadable_event(first.order_id)),
        key=first.order_id,
    )
    after = same_partition_order(first.order_id)
    await system.send(commands, after)
    # then the event is on the DLQ with its reason, and the next order completes
    headers = await dead_letter_headers(system.env, STRIPE_EVENTS, first.order_id)
    assert headers["dlq.error_type"] == "InvalidStripeEvent"
    assert headers["dlq.attempts"] == "3"
    assert "unreadable payment_intent.succeeded" in headers["dlq.reason"]
    await system.wait_order(after.order_id, lambda o: o["status"] == "created", timeout=90)
