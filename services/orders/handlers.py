"""One handler per input of the orders worker: a command, a Stripe event, an inbox record.

Each loads the order, lets the pure domain decide, then makes the outcome durable in an
order that survives a crash at any point: facts on `orders.events` first (with ids derived
from the order, the cause and the position, so a replay repeats the same ids and consumers
drop the copy), then the order's table entry, then the read model. Replaying the input after
a crash re-derives the same facts, since the table still holds the state from before.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import asyncpg

from libs.common.contracts import orders_commands, orders_events, orders_inbox, stripe_events
from libs.common.contracts.envelope import ContractError, Envelope, Message
from libs.common.contracts.orders_events import OrderFact
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import ORDERS_EVENTS, ORDERS_INBOX, TopicNames
from services.orders import views
from services.orders.adapters import postgres
from services.orders.domain import aggregate
from services.orders.domain.errors import UnknownOrder
from services.orders.domain.state import Order

log = logging.getLogger(__name__)
FACT_IDS = uuid.UUID("5f0c1d9e-6a43-4f0e-9a57-2b1f0c8d7e11")
PRODUCER = "orders"


class OrderStore(ABC):
    """Where the worker keeps each order's state (a Faust table in production)."""

    @abstractmethod
    def get(self, order_id: str) -> Order | None: ...

    @abstractmethod
    def put(self, order: Order, snapshot: bytes) -> None:
        """Keep `order`; `snapshot` is `aggregate.snapshot(order)`, computed once by the caller."""


def fact_id(fact: OrderFact, position: int) -> str:
    return str(
        uuid.uuid5(FACT_IDS, f"{fact.order_id}|{fact.cause.id}|{type(fact).__name__}|{position}")
    )


def _envelope(fact: OrderFact, position: int, cause_id: str) -> Envelope[Any]:
    return Envelope(
        message_id=fact_id(fact, position),
        producer=PRODUCER,
        correlation_id=fact.order_id,
        causation_id=cause_id,
        payload=fact,
    )


def related_object_ids(received: stripe_events.StripeEventReceived) -> list[str]:
    """Stripe ids in the event that may name the order's PaymentIntent, charge or session."""
    obj = received.event.get("data", {}).get("object", {})
    ids = [obj.get("id"), obj.get("payment_intent"), obj.get("charge")]
    return [i for i in ids if isinstance(i, str)]


async def send_to_inbox(
    producer: KafkaProducer, names: TopicNames, message: Message, order_id: str
) -> None:
    """For the API and effect handlers: a record for the worker that owns the order."""
    envelope: Envelope[Any] = Envelope(producer=PRODUCER, correlation_id=order_id, payload=message)
    await producer.send(
        names.name(ORDERS_INBOX), orders_inbox.CONTRACT.encode(envelope), key=order_id
    )


class Processor:
    def __init__(
        self, store: OrderStore, pool: asyncpg.Pool, producer: KafkaProducer, names: TopicNames
    ) -> None:
        self._store = store
        self._pool = pool
        self._producer = producer
        self._names = names

    async def on_command(self, raw: bytes | None) -> None:
        envelope: Envelope[Any] = orders_commands.CONTRACT.decode(raw)
        command = envelope.payload
        state = self._store.get(command.order_id)
        after, facts = aggregate.handle_command(state, command)
        await self._commit(command.order_id, after, facts, envelope.message_id)

    async def on_stripe_event(self, raw: bytes | None, key: bytes | None) -> None:
        envelope = stripe_events.CONTRACT.decode(raw)
        await self._apply_stripe_event(envelope.payload, key)

    async def on_inbox(self, raw: bytes | None, key: bytes | None) -> None:
        message = orders_inbox.CONTRACT.decode(raw).payload
        if isinstance(message, stripe_events.StripeEventReceived):
            await self._apply_stripe_event(message, key)
            return
        state = self._store.get(message.order_id)
        if state is None:
            raise ContractError(f"fact for unknown order {message.order_id}")
        after, facts = aggregate.apply_facts(state, [message])
        await self._commit(message.order_id, after, facts, message.cause.id)

    async def _apply_stripe_event(
        self, received: stripe_events.StripeEventReceived, key: bytes | None
    ) -> None:
        order_id = received.order_id or await postgres.order_of(
            self._pool, related_object_ids(received)
        )
        if order_id is None:
            log.info(
                "stripe event for no known order: %s %s", received.event_type, received.event_id
            )
            return
        if key is None or key.decode() != order_id:
            # Not on this order's partition: send it where the order lives.
            await self._send_inbox(received.model_copy(update={"order_id": order_id}), order_id)
            return
        received = received.model_copy(update={"order_id": order_id})
        state = self._store.get(order_id)
        try:
            after, facts = aggregate.handle_stripe_event(state, received)
        except UnknownOrder as exc:
            raise ContractError(str(exc)) from exc
        await self._commit(order_id, after, facts, received.event_id)
        if facts:
            await postgres.remember_objects(self._pool, related_object_ids(received), order_id)

    async def _send_inbox(self, message: Message, order_id: str) -> None:
        await send_to_inbox(self._producer, self._names, message, order_id)

    async def send_fact(self, fact: OrderFact) -> None:
        await send_to_inbox(self._producer, self._names, fact, fact.order_id)

    async def _commit(
        self, order_id: str, after: Order | None, facts: Sequence[OrderFact], cause_id: str
    ) -> None:
        records = [
            (order_id, orders_events.CONTRACT.encode(_envelope(fact, position, cause_id)))
            for position, fact in enumerate(facts)
        ]
        await self._producer.send_all(self._names.name(ORDERS_EVENTS), records)
        if after is None or not facts:
            return
        snapshot = aggregate.snapshot(after)
        self._store.put(after, snapshot)
        view = postgres.OrderView(views.order_body(after), views.timeline_body(after), snapshot)
        await postgres.save_view(self._pool, order_id, len(after.facts), after.status, view)
