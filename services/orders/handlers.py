"""One handler per input of the orders worker: a command, a Stripe event, an inbox record.

The worker takes its inputs in batches. Each record loads its order, lets the pure domain
decide, and leaves the new state in the batch (so a later record of the same order in the
batch sees it). The batch then makes the outcome durable in an order that survives a crash
at any point: the read model, the new facts and the map of Stripe objects in one statement
first, then all facts on `orders.events` (each with the id of its change, see
`domain.identity`, so a replay repeats the same ids and consumers drop the copy), then the
orders' table entries. PostgreSQL goes before the broker because it is the stage that may refuse one
record's values: a batch it refuses has published nothing, so the culprit can be found and
dead-lettered (see `batching`) without its facts having reached any consumer.
Replaying the batch after a crash re-derives the same facts, since the table still holds the
state from before; the input offsets are committed only after the batch is durable.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from libs.common.contracts import orders_commands, orders_events, orders_inbox, stripe_events
from libs.common.contracts.envelope import ContractError, Envelope, Message, utc_now
from libs.common.contracts.orders_events import OrderFact
from libs.common.kafka.dead_letters import dlq_headers, error_type
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import (
    ORDERS_COMMANDS,
    ORDERS_EVENTS,
    ORDERS_INBOX,
    STRIPE_EVENTS,
    TopicNames,
)
from services.orders import command_checks, command_log, views
from services.orders.adapters import postgres
from services.orders.command_log import CommandRow
from services.orders.domain import aggregate, identity
from services.orders.domain.aggregate import DEFAULT_POLICY
from services.orders.domain.errors import UnknownOrder
from services.orders.domain.reactions import Policy
from services.orders.domain.state import Order

log = logging.getLogger(__name__)
PRODUCER = "orders"


class OrderStore(ABC):
    """Where the worker keeps each order's state (a Faust table in production)."""

    @abstractmethod
    def get(self, order_id: str) -> Order | None: ...

    @abstractmethod
    def put(self, order: Order, snapshot: bytes, partition: int) -> None:
        """Keep `order`; `snapshot` is its `aggregate.OrderSnapshot` JSON, computed once by the
        caller (`aggregate.snapshot_json`, from facts encoded once each);
        `partition` is the input partition its change came from, the table's partition."""


def _envelope(fact: OrderFact, cause_id: str) -> Envelope[Any]:
    # Our own, already valid parts: constructing without validation saves a model walk
    # (every field given: pydantic's default factories are slow to call from here).
    return Envelope.model_construct(
        message_id=fact.fact_id or identity.fact_id(fact),
        correlation_id=fact.order_id,
        causation_id=cause_id,
        occurred_at=utc_now(),
        producer=PRODUCER,
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


@dataclass
class Batch:
    """What the records of one batch decided, in input order, not yet durable."""

    records: list[tuple[str, bytes]] = field(default_factory=list)
    orders: dict[str, tuple[Order, int]] = field(default_factory=dict)
    before: dict[str, Order | None] = field(default_factory=dict)  # as the batch found them
    objects: list[tuple[str, str]] = field(default_factory=list)
    partition: int = 0  # of the record being decided
    fingerprints: dict[str, str] = field(default_factory=dict)  # command id -> body's
    commands: list[CommandRow] = field(default_factory=list)  # outcomes decided here

    def state(self, order_id: str) -> Order | None:
        pending = self.orders.get(order_id)
        return pending[0] if pending is not None else None

    def add(
        self,
        order_id: str,
        before: Order | None,
        after: Order | None,
        facts: list[OrderFact],
        cause: str,
    ) -> None:
        encode = orders_events.CONTRACT.encode
        records = [(order_id, encode(_envelope(f, cause))) for f in facts]
        self.records.extend(records)
        # Also a change that publishes nothing: an earlier telling of a known fact replaces it
        # (see `evolve`), and that state must be kept like any other.
        if after is not None and (facts or after is not before):
            self.before.setdefault(order_id, before)
            self.orders[order_id] = (after, self.partition)

    def new_facts(self, order: Order) -> set[int]:
        """Positions in `order.facts` of the facts this batch added to it."""
        before = self.before.get(order.order_id)
        old = {id(fact) for fact in before.facts} if before is not None else set()
        return {at for at, fact in enumerate(order.facts) if id(fact) not in old}


class Processor:
    def __init__(
        self,
        store: OrderStore,
        pool: asyncpg.Pool,
        producer: KafkaProducer,
        names: TopicNames,
        policy: Policy = DEFAULT_POLICY,
        limits: command_checks.CommandLimits | None = None,
    ) -> None:
        self._policy = policy
        self._limits = limits or command_checks.CommandLimits()
        self._partition = self._offset = 0  # of the record being decided
        self._store = store
        self._pool = pool
        self._producer = producer
        self._names = names
        self._commands = names.name(ORDERS_COMMANDS)
        self._stripe = names.name(STRIPE_EVENTS)
        self._facts_json = aggregate.FactsJson()

    async def decide(
        self,
        batch: Batch,
        topic: str,
        partition: int,
        key: bytes | None,
        raw: bytes | None,
        offset: int = 0,
    ) -> None:
        """Let the domain decide one record into `batch`. Raises `ContractError` for a record
        no retry can help (the caller dead-letters it); `batch` is unchanged by a failure."""
        batch.partition = partition
        self._partition, self._offset = partition, offset
        if topic == self._commands:
            await self._on_command(batch, raw, key)
        elif topic == self._stripe:
            envelope = stripe_events.CONTRACT.decode(raw)
            await self._apply_stripe_event(batch, envelope.payload, key)
        else:
            await self._on_inbox(batch, raw, key)

    async def prepare(self, batch: Batch, records: Sequence[tuple[str, bytes | None]]) -> None:
        """Read, in one query, the fingerprints of the batch's commands decided before."""
        raws = [raw for topic, raw in records if topic == self._commands]
        ids = command_log.command_ids(raws)
        batch.fingerprints.update(await command_log.known(self._pool, ids))

    def _state(self, batch: Batch, order_id: str) -> Order | None:
        pending = batch.state(order_id)
        return pending if pending is not None else self._store.get(order_id)

    async def _on_command(self, batch: Batch, raw: bytes | None, key: bytes | None) -> None:
        try:
            envelope: Envelope[Any] = orders_commands.CONTRACT.decode(raw)
        except ContractError as exc:
            refused = command_checks.readable_refusal(raw, exc.reason)
            if refused is None:
                raise  # nothing names an order: the DLQ alone
            self._reject(batch, refused)
            await self._dead_letter_copy(raw, key, exc)
            return
        command = envelope.payload
        now = utc_now()
        refused = command_checks.refusal(command, key, now, self._limits)
        digest = command_log.fingerprint(orjson.loads(raw or b"{}")["payload"])
        first = batch.fingerprints.setdefault(command.command_id, digest)
        if refused is None and first != digest:
            refused = command_checks.conflict(command)
        if refused is not None:
            self._reject(batch, refused, command.actor, digest)
            return
        state = self._state(batch, command.order_id)
        after, facts = aggregate.handle_command(state, command, self._policy, accepted_at=now)
        batch.add(command.order_id, state, after, facts, envelope.message_id)
        if facts:
            batch.commands.append(
                command_log.row(command.order_id, command.command_id, digest, facts)
            )

    def _reject(
        self,
        batch: Batch,
        refused: command_checks.Refusal,
        actor: Any = None,
        digest: str = "",
    ) -> None:
        # An answer only: it changes no order, so no state goes into the batch.
        fact = command_checks.rejection(refused, utc_now(), actor)
        fact = fact.model_copy(update={"fact_id": identity.fact_id(fact)})
        batch.add(refused.order_id, None, None, [fact], refused.command_id)
        row = command_log.row(refused.order_id, refused.command_id, digest, [fact])
        batch.commands.append(row)

    async def _dead_letter_copy(
        self, raw: bytes | None, key: bytes | None, exc: ContractError
    ) -> None:
        """A schema-invalid command is answered and also kept on the DLQ for inspection."""
        headers = dlq_headers(
            self._commands, self._partition, self._offset, exc.reason,
            error=error_type(exc), attempts=1,
        )  # fmt: skip
        await self._producer.send(f"{self._commands}.dlq", raw, key=key, headers=headers)

    async def _on_inbox(self, batch: Batch, raw: bytes | None, key: bytes | None) -> None:
        message = orders_inbox.CONTRACT.decode(raw).payload
        if isinstance(message, stripe_events.StripeEventReceived):
            await self._apply_stripe_event(batch, message, key)
            return
        state = self._state(batch, message.order_id)
        if state is None:
            raise ContractError(f"fact for unknown order {message.order_id}")
        after, facts = aggregate.apply_facts(state, [message], self._policy)
        batch.add(message.order_id, state, after, facts, message.cause.id)

    async def _apply_stripe_event(
        self, batch: Batch, received: stripe_events.StripeEventReceived, key: bytes | None
    ) -> None:
        objects = related_object_ids(received)
        order_id = received.order_id or await postgres.order_of(self._pool, objects)
        if order_id is None:
            log.info(
                "stripe event for no known order: %s %s", received.event_type, received.event_id
            )
            return
        if received.order_id is None:
            received = received.model_copy(update={"order_id": order_id})
        if key is None or key.decode() != order_id:
            # Not on this order's partition: send it where the order lives.
            await send_to_inbox(self._producer, self._names, received, order_id)
            return
        state = self._state(batch, order_id)
        try:
            after, facts = aggregate.handle_stripe_event(state, received, self._policy)
        except UnknownOrder as exc:
            raise ContractError(str(exc)) from exc
        batch.add(order_id, state, after, facts, received.event_id)
        if facts:
            batch.objects.extend((object_id, order_id) for object_id in objects)

    async def send_fact(self, fact: OrderFact) -> None:
        await send_to_inbox(self._producer, self._names, fact, fact.order_id)

    async def commit(self, batch: Batch) -> None:
        """Make `batch` durable: read model, then facts, then table. Safe to repeat.

        The table goes last: until it holds the new state, a replay re-derives the same
        facts (same ids) and rewrites the same read model (a row of the same version is
        rewritten with what it holds already), so a crash at any step leaves neither a lost
        fact nor a stale view
        behind. Faust flushes the table's changelog before it commits the input offsets."""
        rows: list[postgres.ViewRow] = []
        facts: list[postgres.FactRow] = []
        kept: list[tuple[Order, int, bytes]] = []
        for order, partition in batch.orders.values():
            encoded = self._facts_json.encode(order)
            added = batch.new_facts(order)
            facts.extend(
                postgres.FactRow(
                    order.order_id, identity.fact_key(order.facts[at]), encoded[at].decode()
                )
                for at in sorted(added)
            )
            rows.append(
                postgres.ViewRow(
                    order.order_id, len(order.facts), order.status, views.order_json(order)
                )
            )
            kept.append((order, partition, aggregate.snapshot_json(order.order_id, encoded)))
        await postgres.save_changes(self._pool, rows, facts, batch.objects, batch.commands)
        await self._producer.send_all(self._names.name(ORDERS_EVENTS), batch.records)
        for order, partition, snapshot in kept:
            self._store.put(order, snapshot, partition)
