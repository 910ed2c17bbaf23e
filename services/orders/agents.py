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
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import faust

from libs.common.contracts import orders_commands, orders_events
from libs.common.contracts.envelope import ContractError, Envelope
from libs.common.contracts.orders_commands import Actor, CancelOrder
from libs.common.kafka.admin import ensure_topics
from libs.common.kafka.consumer import PermanentError, dlq_headers
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
from services.orders.domain import aggregate
from services.orders.domain.state import Order
from services.orders.effects import Effects
from services.orders.handlers import OrderStore, Processor
from services.orders.settings import OrdersSettings

log = logging.getLogger(__name__)


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

    def put(self, order: Order, snapshot: bytes) -> None:
        key = order.order_id.encode()
        self._table[key] = snapshot
        self._remember(key, snapshot, order)

    def _remember(self, key: bytes, raw: bytes, order: Order) -> None:
        self._decoded[key] = (raw, order)
        self._decoded.move_to_end(key)
        if len(self._decoded) > self._cache_size:
            self._decoded.popitem(last=False)


def build_app(settings: OrdersSettings) -> faust.App:
    names = TopicNames(settings.topic_prefix)
    app = faust_transport.App(
        f"{settings.topic_prefix}{settings.orders_worker_id}",
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        store="memory://",
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

    @app.agent(inputs)
    async def orders(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            await wiring.route(event.message.topic, event.key, event.value, event.message)
            yield None

    @app.agent(facts)
    async def effects(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            await wiring.effect(event.value, event.message)
            yield None

    @app.timer(interval=settings.orders_expiry_scan_interval_s, on_leader=True)
    async def expire_authorizations() -> None:
        await wiring.expire_authorizations()

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.assignor.assigned_actives())
        return web.json({"status": "ok", "assigned": assigned})

    return app


class Wiring:
    """What the agents call: set up on worker start, torn down on stop."""

    def __init__(self, settings: OrdersSettings, names: TopicNames, store: OrderStore) -> None:
        self.settings = settings
        self.names = names
        self.store = store
        self.processor: Processor | None = None
        self.effects: Effects | None = None
        self.producer: KafkaProducer | None = None
        self.pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def ready(self) -> Processor:
        """Set up on first use, inside the worker's event loop."""
        async with self._lock:
            if self.processor is None:
                await self._start()
        assert self.processor is not None
        return self.processor

    async def _start(self) -> None:
        ensure_topics(self.settings.kafka_bootstrap_servers, self.names.all_names())
        pool = await postgres.connect(self.settings.database_url.get_secret_value())
        self.pool = pool
        # No linger: the worker waits for each batch of facts, so batching by time only adds it.
        self.producer = KafkaProducer(
            self.settings.kafka_bootstrap_servers, client_id="orders", linger_ms=0
        )
        self.processor = Processor(self.store, pool, self.producer, self.names)
        gateway = StripeGateway(make_client(self.settings, asynchronous=True))
        self.effects = Effects(gateway, self.processor)

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

    async def route(self, topic: str, key: bytes | None, value: bytes, message: Any) -> None:
        processor = await self.ready()

        async def handle() -> None:
            if topic == self.names.name(ORDERS_COMMANDS):
                await processor.on_command(value)
            elif topic == self.names.name(STRIPE_EVENTS):
                await processor.on_stripe_event(value, key)
            else:
                await processor.on_inbox(value, key)

        await self._guarded(handle, message)

    async def effect(self, value: bytes, message: Any) -> None:
        await self.ready()
        effects = self.effects
        assert effects is not None
        await self._guarded(
            lambda: effects.carry_out(orders_events.CONTRACT.decode(value)), message
        )

    async def _guarded(self, handle: Callable[[], Awaitable[None]], message: Any) -> None:
        """Retry what may succeed later; dead-letter what never will; skip nothing."""
        delay = 0.1
        while True:
            try:
                await handle()
                return
            except (ContractError, PermanentError) as exc:
                await self._dead_letter(message, str(exc))
                return
            except Exception:
                log.exception("orders handler failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _dead_letter(self, message: Any, reason: str) -> None:
        assert self.producer is not None
        log.error("to DLQ: %s (topic=%s offset=%s)", reason, message.topic, message.offset)
        headers = dlq_headers(message.topic, message.partition, message.offset, reason)
        await self.producer.send(
            f"{message.topic}.dlq", message.value, key=message.key, headers=headers
        )
