"""The Faust worker: one agent over the three co-partitioned inputs of an order, and one that
carries out the effects the domain asks for (capture, cancel, fetch the actual fee).

Processing is at-least-once (Tansu's transactions cannot be trusted, so no `exactly_once`):
every effect is idempotent, keyed by a Stripe event id, a command id or an idempotency key.
The order table lives in memory and is rebuilt from its changelog topic when a worker starts
or takes over a partition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from typing import Any, cast

import asyncpg
import faust
from faust.types import EventT

from libs.common.contracts import orders_commands, orders_events
from libs.common.contracts.envelope import Envelope
from libs.common.contracts.orders_commands import Actor, CancelOrder
from libs.common.kafka.admin import Durability
from libs.common.kafka.dead_letters import dlq_headers, error_type, handle_or_dead_letter
from libs.common.kafka.producer import KafkaProducer
from libs.common.stripe_client import make_client
from libs.common.topics import (
    ORDERS_COMMANDS,
    ORDERS_EVENTS,
    ORDERS_INBOX,
    STRIPE_EVENTS,
    TopicNames,
)
from services.orders import faust_transport
from services.orders.adapters import postgres
from services.orders.adapters.stripe_gateway import StripeGateway
from services.orders.batching import BatchPort, commit_or_split
from services.orders.command_checks import CommandLimits
from services.orders.domain import aggregate
from services.orders.domain.reactions import Policy
from services.orders.domain.state import Order
from services.orders.effects import Effects, FeeRetry, may_act_on
from services.orders.handlers import Batch, OrderStore, Processor
from services.orders.health import WorkerHealth
from services.orders.settings import OrdersSettings

log = logging.getLogger(__name__)
# A batch shares one send of facts and one read-model write; `within` bounds the wait for
# a batch to fill, so it is what a quiet moment adds to an event's latency.
BATCH_MAX = 500
BATCH_WITHIN_S = 0.02


class TableStore(OrderStore):
    """The Faust table holds snapshots; decoded orders are kept beside it so that an order is
    not re-folded from its snapshot on every event. An entry is trusted only while the table
    still holds the very snapshot it was decoded from (recovery or a rebalance replaces it)."""

    def __init__(self, table: Any, cache_size: int = 50_000) -> None:
        self._table = table
        self._decoded: OrderedDict[bytes, tuple[bytes, Order]] = OrderedDict()
        self._cache_size = cache_size

    def get(self, order_id: str) -> Order | None:
        key = order_id.encode()
        raw = self._table.get(key)
        if not raw:
            return None
        cached = self._decoded.get(key)
        if cached is not None and cached[0] is raw:
            self._decoded.move_to_end(key)
            return cached[1]
        order = aggregate.restore(raw)
        self._remember(key, raw, order)
        return order

    def put(self, order: Order, snapshot: bytes, partition: int) -> None:
        key = order.order_id.encode()
        faust_transport.write_table(self._table, partition, key, snapshot)
        self._remember(key, snapshot, order)

    def _remember(self, key: bytes, raw: bytes, order: Order) -> None:
        self._decoded[key] = (raw, order)
        self._decoded.move_to_end(key)
        if len(self._decoded) > self._cache_size:
            self._decoded.popitem(last=False)


def app_id(settings: OrdersSettings) -> str:
    """Faust's app id: the consumer group, and the prefix of its table's changelog topic."""
    return f"{settings.topic_prefix}{settings.orders_worker_id}"


def build_app(settings: OrdersSettings, durability: Durability | None = None) -> faust.App:
    """`durability` is what the topics were created with (see `ensure_topics`); Faust uses it
    for the topics it declares itself."""
    durability = durability or Durability(1, 1)
    names = TopicNames(settings.topic_prefix)
    (settings.var_dir / "faust").mkdir(parents=True, exist_ok=True)
    app = faust_transport.App(
        app_id(settings),
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        store="memory://",
        # Faust makes a folder for its app data even with a memory store; keep it under var/.
        datadir=str(settings.var_dir / "faust" / "{conf.name}-data"),
        topic_partitions=ORDERS_COMMANDS.partitions,
        topic_allow_declare=True,
        web_enabled=True,
        web_bind=settings.orders_host,
        web_port=settings.orders_worker_port,
        web_in_thread=False,
        producer_acks=-1,
        # Every record is our own envelope or snapshot bytes: Faust must not re-encode them,
        # neither when writing the table's changelog nor when recovering from it.
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        # Faust's defaults make the first group join take ~30 s on Tansu; these take ~3 s.
        broker_rebalance_timeout=5,
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        table_standby_replicas=0,
        topic_replication_factor=durability.replication_factor,
        table_writes_buffered=2 * BATCH_MAX,
    )
    table = app.Table(
        "orders",
        partitions=ORDERS_COMMANDS.partitions,
        key_type=bytes,
        value_type=bytes,
    )
    inputs = app.topic(
        names.name(ORDERS_COMMANDS), names.name(STRIPE_EVENTS), names.name(ORDERS_INBOX),
        key_serializer="raw", value_serializer="raw",
    )  # fmt: skip
    facts = app.topic(names.name(ORDERS_EVENTS), key_serializer="raw", value_serializer="raw")
    wiring = Wiring(settings, names, TableStore(table))
    app.before_consuming(wiring.start)

    @app.agent(inputs)
    async def orders(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        # take_events acks a batch's records only when the loop comes back for the next batch,
        # that is after `route` made the whole batch durable.
        batches = cast(faust.Stream[bytes], stream).take_events(BATCH_MAX, within=BATCH_WITHIN_S)
        async for events in batches:
            await wiring.route(events)
            yield None

    @app.agent(facts)
    async def effects(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            await wiring.effect(event.value, event.message)
            yield None

    @app.timer(interval=settings.orders_expiry_scan_interval_s, on_leader=True)
    async def expire_authorizations() -> None:
        await wiring.expire_authorizations()

    @app.timer(interval=settings.orders_expiry_scan_interval_s, on_leader=True)
    async def retry_fees() -> None:
        await wiring.retry_fees()

    wiring.health.install(app)
    return app


class Wiring:
    """What the agents call: set up on worker start, torn down on stop."""

    def __init__(self, settings: OrdersSettings, names: TopicNames, store: OrderStore) -> None:
        self.settings = settings
        self.names = names
        self.store = store
        self.processor: Processor | None = None
        self.effects: Effects | None = None
        self.fee_retry: FeeRetry | None = None
        self.producer: KafkaProducer | None = None
        self.pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self.health = WorkerHealth(settings.orders_stall_after_s)

    async def start(self) -> None:
        """Connect, in the worker's event loop before it consumes (see `before_consuming`).
        The topics exist already: the worker's entry point creates them before Faust runs."""
        async with self._lock:
            if self.processor is None:
                await self._connect()

    async def ready(self) -> Processor:
        await self.start()  # a no-op once started
        assert self.processor is not None
        return self.processor

    async def _connect(self) -> None:
        pool = await postgres.connect(self.settings.database_url.get_secret_value())
        self.pool = pool
        # No linger: the worker waits for each batch of facts, so batching by time only adds
        # it; and every send is awaited on this loop, so the loop serves the delivery reports.
        self.producer = KafkaProducer(
            self.settings.kafka_bootstrap_servers,
            client_id="orders",
            linger_ms=0,
            poll_thread=False,
        )
        policy = Policy(refund_surplus=self.settings.orders_refund_surplus)
        limits = CommandLimits(
            self.settings.orders_command_max_future_s, self.settings.orders_command_max_age_s
        )
        self.processor = Processor(self.store, pool, self.producer, self.names, policy, limits)
        gateway = StripeGateway(make_client(self.settings, asynchronous=True))
        self.effects = Effects(gateway, self.processor)
        self.fee_retry = FeeRetry(self.effects)

    async def retry_fees(self) -> None:
        """Ask Stripe again for the fees it could not give yet (see `FeeRetry`)."""
        await self.ready()
        assert self.pool is not None and self.fee_retry is not None
        missing = await postgres.charges_without_fee(self.pool)
        await self.fee_retry.run_once(missing, asyncio.get_running_loop().time())

    async def expire_authorizations(self) -> None:
        """Cancel orders whose authorization was never captured in time, by sending the
        same `CancelOrder` the backend would; the command id makes a repeat a no-op."""
        await self.ready()
        assert self.producer is not None and self.pool is not None
        window = self.settings.orders_authorization_window_s
        for order_id, intent in await postgres.expired_authorizations(self.pool, window):
            expire = CancelOrder(
                order_id=order_id,
                command_id=f"authorization-expired-{intent}",
                actor=Actor(kind="system", id="authorization-expiry"),
                reason="authorization expired before capture",
            )
            envelope: Envelope[Any] = Envelope(
                producer="orders", correlation_id=order_id, payload=expire
            )
            await self.producer.send(
                self.names.name(ORDERS_COMMANDS),
                orders_commands.CONTRACT.encode(envelope),
                key=order_id,
            )
            log.info("authorization of %s expired; canceling order %s", intent, order_id)

    async def route(self, events: Sequence[EventT]) -> None:
        """Decide each record in order (a poison one is dead-lettered, the next one decided),
        then make the batch durable, splitting it to dead-letter a record that breaks it."""
        processor = await self.ready()
        self.health.progress.received(
            {(e.message.topic, e.message.partition) for e in events}, time.monotonic()
        )
        port = _Inputs(self, processor)
        batch, kept = await port.decide(events)
        await commit_or_split(port, kept, batch, max_attempts=self.settings.orders_max_attempts)
        last: dict[tuple[str, int], int] = {}
        for event in events:
            last[(event.message.topic, event.message.partition)] = event.message.offset
        self.health.progress.advanced(last, time.monotonic())

    async def effect(self, value: bytes, message: Any) -> None:
        if not may_act_on(value):
            return
        await self.ready()
        effects = self.effects
        assert effects is not None
        await self.guarded(lambda: effects.carry_out(orders_events.CONTRACT.decode(value)), message)

    async def guarded(self, handle: Callable[[], Awaitable[None]], message: Any) -> bool:
        """Run `handle` for `message`: False when the message was dead-lettered instead."""

        async def dead_letter(exc: BaseException, attempts: int) -> None:
            await self.dead_letter(message, exc, attempts)

        where = f"{message.topic}[{message.partition}]@{message.offset}"
        return await handle_or_dead_letter(
            handle, dead_letter, max_attempts=self.settings.orders_max_attempts, what=where
        )

    async def dead_letter(self, message: Any, exc: BaseException, attempts: int) -> None:
        assert self.producer is not None
        reason, kind = str(exc) or repr(exc), error_type(exc)
        log.error(
            "to DLQ: %s: %s (topic=%s offset=%s)", kind, reason, message.topic, message.offset
        )
        headers = dlq_headers(
            message.topic, message.partition, message.offset, reason,
            error=kind, attempts=attempts,
        )  # fmt: skip
        await self.producer.send(
            f"{message.topic}.dlq", message.value, key=message.key, headers=headers
        )
        self.health.dead_lettered(message.topic, kind)


class _Inputs(BatchPort[EventT]):
    """The worker's records as `batching` sees them."""

    def __init__(self, wiring: Wiring, processor: Processor) -> None:
        self._wiring = wiring
        self._processor = processor

    async def decide(self, records: Sequence[EventT]) -> tuple[Batch, list[EventT]]:
        batch = Batch()
        await self._processor.prepare(batch, [(e.message.topic, e.value) for e in records])
        kept = []
        for event in records:
            message = event.message
            decide = partial(
                self._processor.decide,
                batch, message.topic, message.partition, event.key, event.value, message.offset,
            )  # fmt: skip
            if await self._wiring.guarded(decide, message):
                kept.append(event)
        return batch, kept

    async def commit(self, batch: Batch) -> None:
        await self._processor.commit(batch)

    async def dead_letter(self, record: EventT, exc: BaseException, attempts: int) -> None:
        await self._wiring.dead_letter(record.message, exc, attempts)
