"""What an e2e test drives: the backend's commands, the orders API, Stripe (the SDK against the
emulator, playing the buyer's browser and the dashboard), and the processes themselves."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import stripe

from libs.common.contracts import orders_commands as oc
from libs.common.contracts.envelope import Envelope
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import ORDERS_COMMANDS, ORDERS_EVENTS, Topic, TopicNames
from tests.support import processes
from tests.support.kafka import read_topic

Json = dict[str, Any]


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class System:
    env: dict[str, str]
    emulator_url: str
    logs: Path
    worker: processes.Running
    stripe: stripe.StripeClient = field(init=False)

    def __post_init__(self) -> None:
        self.stripe = stripe.StripeClient(
            "sk_test_emulator",
            base_addresses={"api": self.emulator_url},
            max_network_retries=0,
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.env['ORDERS_PORT']}"

    @property
    def names(self) -> TopicNames:
        return TopicNames(self.env["TOPIC_PREFIX"])

    async def send(self, producer: KafkaProducer, command: oc.OrderCommandBase) -> None:
        envelope: Envelope[Any] = Envelope(
            producer="backend-api", correlation_id=command.order_id, payload=command
        )
        await producer.send(
            self.names.name(ORDERS_COMMANDS),
            oc.CONTRACT.encode(envelope),
            key=command.order_id,
        )

    async def request(
        self,
        method: str,
        path: str,
        body: Json | None = None,
        headers: dict[str, str] | None = None,
        base: str | None = None,
    ) -> Reply:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, (base or self.api_url) + path, json=body, headers=headers
            ) as resp,
        ):
            text = await resp.text()
            return Reply(resp.status, json.loads(text) if text else None, dict(resp.headers))

    async def pay_intent(self, order_id: str, key: str | None = None) -> Json:
        reply = await self.request(
            "POST",
            f"/orders/{order_id}/payment-intent",
            {},
            {"Idempotency-Key": key or f"pi-{uuid.uuid4().hex}"},
        )
        assert reply.status == 201, reply.body
        return dict(reply.body)

    async def emulator(self, path: str, body: Json | None = None) -> Any:
        reply = await self.request("POST", path, body or {}, base=self.emulator_url)
        assert reply.status == 200, reply.body
        return reply.body

    async def order(self, order_id: str) -> Json | None:
        reply = await self.request("GET", f"/orders/{order_id}")
        return dict(reply.body) if reply.status == 200 else None

    async def wait_order(
        self, order_id: str, until: Callable[[Json], bool], timeout: float = 40.0
    ) -> Json:
        """Poll the read API until `until(order)` holds; fail with the last state seen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: Json | None = None
        while loop.time() < deadline:
            last = await self.order(order_id)
            if last is not None and until(last):
                return last
            await asyncio.sleep(0.2)
        facts = [
            f"{f['type']}({f.get('code') or f.get('reason') or ''})"
            for f in await self.facts_of(order_id)
        ]
        raise AssertionError(
            f"order {order_id} never reached the state; last: {last}; facts: {facts}"
        )

    async def timeline(self, order_id: str) -> list[Json]:
        reply = await self.request("GET", f"/orders/{order_id}/timeline")
        assert reply.status == 200, reply.body
        return list(reply.body["timeline"])

    async def facts_of(self, order_id: str) -> list[Json]:
        """Every fact published about the order, in the order the broker holds them."""
        topic = self.names.name(ORDERS_EVENTS)
        bootstrap = self.env["KAFKA_BOOTSTRAP_SERVERS"]
        messages = await read_topic(bootstrap, topic, expected=10**6, timeout=2.0)
        payloads = [json.loads(m.value())["payload"] for m in messages]
        return [p for p in payloads if p.get("order_id") == order_id]

    async def find_fact(self, match: Callable[[Json], bool], timeout: float = 30.0) -> Json:
        """The first fact on `orders.events` whose payload satisfies `match`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        topic = self.names.name(ORDERS_EVENTS)
        bootstrap = self.env["KAFKA_BOOTSTRAP_SERVERS"]
        while loop.time() < deadline:
            for message in await read_topic(bootstrap, topic, expected=10**6, timeout=1.0):
                payload = json.loads(message.value())["payload"]
                if match(payload):
                    return dict(payload)
        raise AssertionError("no such fact on orders.events")

    def restart_worker(self, sig: int = signal.SIGKILL) -> None:
        """Kill the worker (SIGKILL: no clean shutdown) and start a new one on the same group."""
        self.worker.stop(sig)
        self.worker = processes.start(
            "orders-worker",
            ["services.orders", "worker"],
            env={**self.env, "STRIPE_API_BASE": self.emulator_url},
            log_dir=self.logs,
            health_url=f"http://127.0.0.1:{self.env['ORDERS_WORKER_PORT']}/healthz",
        )
        wait_for_assignment(self.env, timeout=120)


def _assigned(health_url: str) -> set[str]:
    try:
        with urllib.request.urlopen(health_url, timeout=2) as resp:  # noqa: S310 - loopback
            return set(json.loads(resp.read())["assigned"])
    except (OSError, ValueError):
        return set()


def wait_for_assignment(env: dict[str, str], timeout: float) -> None:
    """A worker answers /healthz before the group has given it partitions; after a crash the
    broker first waits out the dead member's session. Ready means it owns every partition."""
    url = f"http://127.0.0.1:{env['ORDERS_WORKER_PORT']}/healthz"
    wanted = {
        f"{env['TOPIC_PREFIX']}orders.commands:{p}" for p in range(ORDERS_COMMANDS.partitions)
    }
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if wanted <= _assigned(url):
            return
        time.sleep(0.2)
    raise AssertionError(f"the orders worker was not given its partitions in {timeout:.0f}s")


def new_order(
    *,
    capture_method: oc.CaptureMethod = "automatic",
    buyer_id: str | None = None,
    currency: str = "usd",
) -> oc.CreateOrder:
    order_id = f"ord_{uuid.uuid4().hex[:12]}"
    return oc.CreateOrder(
        order_id=order_id,
        command_id=f"cmd_{uuid.uuid4().hex[:12]}",
        actor=oc.Actor(kind="api", id="backend"),
        buyer=oc.Buyer(
            id=buyer_id or f"buyer_{uuid.uuid4().hex[:8]}", email="ada@example.com", name="Ada"
        ),
        currency=currency,
        capture_method=capture_method,
        items=(
            oc.LineItem(
                sku="mug", description="Mug", quantity=2, unit_amount=1250, tax_amount=250,
                seller_id="seller_a",
            ),
            oc.LineItem(
                sku="print", description="Print", quantity=1, unit_amount=4000, tax_amount=400,
                seller_id="seller_b",
            ),
        ),
    )  # fmt: skip


def command(kind: type[oc.OrderCommandBase], order_id: str, **fields: Any) -> Any:
    return kind(
        order_id=order_id,
        command_id=f"cmd_{uuid.uuid4().hex[:12]}",
        actor=oc.Actor(kind="seller", id="seller_a"),
        **fields,
    )


async def start_checkout(system: System, order_id: str, body: Json | None = None) -> Reply:
    """`POST /orders/{id}/checkout-session` with a fresh Idempotency-Key."""
    return await system.request(
        "POST",
        f"/orders/{order_id}/checkout-session",
        body if body is not None else {},
        {"Idempotency-Key": f"cs-{uuid.uuid4().hex}"},
    )


def intents_at_stripe(system: System, order_id: str) -> list[Json]:
    """Every PaymentIntent Stripe holds for the order (ours and Checkout's)."""
    found = system.stripe.v1.payment_intents.search(
        {"query": f"metadata['order_id']:'{order_id}'", "limit": 100}
    )
    return [intent.to_dict() for intent in found.data]


def sessions_at_stripe(system: System, order_id: str) -> list[Json]:
    found = system.stripe.v1.checkout.sessions.list({"limit": 100})
    sessions = [s.to_dict() for s in found.data]
    return [s for s in sessions if s.get("client_reference_id") == order_id]


def partition_of(key: str, partitions: int) -> int:
    """The partition the Java client's murmur2 partitioner (ours too) puts `key` on."""
    data = key.encode()
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    whole = len(data) & ~3
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = data[whole:]
    if tail:
        for shift, byte in reversed(list(enumerate(tail))):
            h ^= byte << (8 * shift)
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


def same_partition_order(key: str, **fields: Any) -> oc.CreateOrder:
    """A new order whose id lands on the same partition of `orders.commands` as `key`."""
    wanted = partition_of(key, ORDERS_COMMANDS.partitions)
    while True:
        order = new_order(**fields)
        if partition_of(order.order_id, ORDERS_COMMANDS.partitions) == wanted:
            return order


async def dead_letter_headers(
    env: dict[str, str], topic: Topic, key: str, timeout: float = 60.0
) -> Json:
    """Headers of the first dead letter of `topic` whose key is `key` (fails after `timeout`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    dlq = TopicNames(env["TOPIC_PREFIX"]).dlq(topic)
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    while loop.time() < deadline:
        for message in await read_topic(bootstrap, dlq, expected=10**6, timeout=1.0):
            if message.key() == key.encode():
                return {k: v.decode() for k, v in message.headers() or []}
    raise AssertionError(f"no dead letter keyed {key} on {dlq}")
