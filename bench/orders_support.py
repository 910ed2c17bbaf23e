"""What `bench.orders_bench` feeds the orders worker, and how it reads the outcome.

Stripe events are shaped like Stripe's (`payment_intent.succeeded`, `charge.succeeded`, with
`metadata.order_id`), except that the charge and its balance transaction come expanded: the
fee is then known from the event itself, so the effects agent asks the emulator for nothing
and the figures are those of the orders agent alone. Run as `python -m bench.orders_support`
it is the webhook sender of the latency phase: signed posts to ingest at a fixed rate, in a
process of its own, printing each order's scheduled send time (epoch seconds) as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import confluent_kafka

from libs.common.contracts import orders_commands as oc
from libs.common.contracts import stripe_events
from libs.common.contracts.envelope import Envelope

TOTAL = 7150  # the order below: 2 x 12.50 + 2.50 tax, 40.00 + 4.00 tax
FEE = 237  # 2.9% + 0.30
Stamp = tuple[str, float]
Times = dict[str, float]  # order id -> epoch seconds


def create_order(order_id: str, command_id: str) -> bytes:
    command = oc.CreateOrder(
        order_id=order_id,
        command_id=command_id,
        actor=oc.Actor(kind="api", id="backend"),
        buyer=oc.Buyer(id=f"buyer_{order_id[-8:]}", email="ada@example.com", name="Ada"),
        currency="usd",
        items=(
            oc.LineItem(sku="mug", description="Mug", quantity=2, unit_amount=1250,
                        tax_amount=250, seller_id="seller_a"),
            oc.LineItem(sku="print", description="Print", quantity=1, unit_amount=4000,
                        tax_amount=400, seller_id="seller_b"),
        ),
    )  # fmt: skip
    envelope: Envelope[Any] = Envelope(
        producer="backend-api", correlation_id=order_id, payload=command
    )
    return oc.CONTRACT.encode(envelope)


def _charge(order_id: str, tag: str, created: int) -> dict[str, Any]:
    return {
        "id": f"ch_{tag}",
        "object": "charge",
        "amount": TOTAL,
        "amount_captured": TOTAL,
        "amount_refunded": 0,
        "captured": True,
        "currency": "usd",
        "created": created,
        "paid": True,
        "status": "succeeded",
        "payment_intent": f"pi_{tag}",
        "payment_method": "pm_card_visa",
        "balance_transaction": {
            "id": f"txn_{tag}",
            "object": "balance_transaction",
            "amount": TOTAL,
            "fee": FEE,
            "net": TOTAL - FEE,
            "currency": "usd",
            "created": created,
        },
        "metadata": {"order_id": order_id},
    }


def refund_event(order_id: str, tag: str, refunded_total: int, number: int) -> dict[str, Any]:
    """`charge.refunded` for the `number`th partial refund of the charge `stripe_event`
    made with `tag`: a new change of the order each time (one `RefundRecorded` fact)."""
    created = int(time.time())
    charge = {**_charge(order_id, tag, created), "amount_refunded": refunded_total}
    refund = {
        "id": f"re_{tag}_{number}",
        "object": "refund",
        "amount": 1,
        "charge": charge["id"],
        "currency": "usd",
        "status": "succeeded",
        "reason": "requested_by_customer",
    }
    charge["refunds"] = {"object": "list", "data": [refund]}
    event = _event("charge.refunded", f"{tag}r{number}", created, charge)
    event["data"]["previous_attributes"] = {"amount_refunded": refunded_total - 1}
    return event


def stripe_event(kind: str, order_id: str, tag: str) -> dict[str, Any]:
    """One Stripe event about order `order_id`; `tag` makes its ids unique."""
    created = int(time.time())
    charge = _charge(order_id, tag, created)
    if kind == "charge.succeeded":
        obj = charge
    else:
        obj = {
            "id": f"pi_{tag}",
            "object": "payment_intent",
            "amount": TOTAL,
            "amount_received": TOTAL,
            "amount_capturable": 0,
            "capture_method": "automatic",
            "currency": "usd",
            "created": created,
            "customer": "cus_bench",
            "status": "succeeded",
            "latest_charge": charge,
            "payment_method_types": ["card"],
            "metadata": {"order_id": order_id},
        }
    return _event(kind, tag, created, obj)


def _event(kind: str, tag: str, created: int, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_{kind[:2]}{tag}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{tag}", "idempotency_key": f"browser-{tag}"},
        "type": kind,
        "data": {"object": obj},
    }


def as_received(event: dict[str, Any], order_id: str) -> bytes:
    """The record ingest would put on `stripe.events` for `event`."""
    payload = stripe_events.StripeEventReceived(
        event_id=event["id"],
        event_type=event["type"],
        api_version=event["api_version"],
        created=event["created"],
        endpoint="platform",
        received_at=datetime.now(UTC),
        object_id=event["data"]["object"]["id"],
        order_id=order_id,
        event=event,
    )
    envelope: Envelope[Any] = Envelope(
        producer="ingest", correlation_id=order_id, causation_id=event["id"], payload=payload
    )
    return stripe_events.CONTRACT.encode(envelope)


def produce_all(bootstrap: str, topic: str, records: Iterable[tuple[str, bytes]]) -> int:
    """Produce keyed records as fast as the broker takes them; Faust's partitioner, so that
    each key lands on the partition its order lives on."""
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 20,
         "acks": "all", "enable.idempotence": True, "queue.buffering.max.messages": 200_000}
    )  # fmt: skip
    count = 0
    for key, value in records:
        producer.produce(topic, value, key.encode())
        producer.poll(0)
        count += 1
    if producer.flush(60):
        raise RuntimeError(f"records left undelivered on {topic}")
    return count


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "bench"})
    try:
        marks = {}
        for p in range(partitions):
            _, high = consumer.get_watermark_offsets(
                confluent_kafka.TopicPartition(topic, p), timeout=10
            )
            marks[p] = high
        return marks
    finally:
        consumer.close()


def stamps(
    bootstrap: str,
    topic: str,
    since: dict[int, int],
    kind: str,
    wanted: Callable[[str, dict[str, Any]], bool],
    expected: int,
) -> list[Stamp]:
    """(key, broker timestamp in s) of the `kind` records from the offsets `since` on for which
    `wanted(key, payload)` holds, until `expected` of them are found or none came for a while.

    Records are picked by what caused them, not by offsets alone: the high watermark a broker
    reports may trail the records just written, so a window of offsets could take in the tail
    of the previous burst and leave out the tail of this one."""
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bench", "enable.auto.commit": False}
    )
    consumer.assign([confluent_kafka.TopicPartition(topic, p, o) for p, o in since.items()])
    found: list[Stamp] = []
    seen: set[str] = set()
    duplicates = 0
    quiet_until = time.monotonic() + 5
    try:
        while len(found) < expected and time.monotonic() < quiet_until:
            for message in consumer.consume(1000, timeout=0.5):
                value, key = message.value(), message.key()
                if message.error() or value is None or key is None:
                    continue
                quiet_until = time.monotonic() + 5
                record = json.loads(value)
                payload = record["payload"]
                if payload["type"] != kind or not wanted(key.decode(), payload):
                    continue
                if record["message_id"] in seen:  # a replay's copy: not a new fact
                    duplicates += 1
                    continue
                seen.add(record["message_id"])
                found.append((key.decode(), message.timestamp()[1] / 1000))
    finally:
        consumer.close()
    if duplicates:
        print(f"  ({duplicates} copies of {kind} facts left out)", file=sys.stderr)
    return sorted(found, key=lambda s: s[1])


def caused_by(causes: set[str]) -> Callable[[str, dict[str, Any]], bool]:
    return lambda _key, payload: payload.get("cause", {}).get("id") in causes


def keyed_by(keys: set[str]) -> Callable[[str, dict[str, Any]], bool]:
    return lambda key, _payload: key in keys


def rows(dsn: str, orders: list[str], version: int) -> list[Stamp]:
    """(order id, `updated_at` in epoch s) of the read-model rows at `version` or later."""

    async def fetch() -> list[Stamp]:
        conn = await asyncpg.connect(dsn)
        try:
            found = await conn.fetch(
                "SELECT order_id, extract(epoch FROM updated_at)::float8 AS at"
                " FROM orders_view WHERE order_id = ANY($1::text[]) AND version >= $2",
                orders,
                version,
            )
        finally:
            await conn.close()
        return [(r["order_id"], r["at"]) for r in found]

    return asyncio.run(fetch())


def spread(start: Times, end: Times) -> dict[str, float | None]:
    """p50/p95/p99/max in ms of `end - start` over the orders found in both."""
    ms = sorted((end[o] - at) * 1000 for o, at in start.items() if o in end)

    def pick(q: float) -> float | None:
        return round(ms[min(int(q * len(ms)), len(ms) - 1)], 1) if ms else None

    return {"p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99), "max": pick(1.0)}


def signed(event: dict[str, Any], secret: str) -> tuple[bytes, str]:
    body = json.dumps(event, separators=(",", ":")).encode()
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
    return body, f"t={stamp},v1={digest.hexdigest()}"


async def send_at_rate(url: str, secret: str, orders: list[str], rate: float) -> dict[str, Any]:
    """Open loop: post i is due at start + i/rate whatever happened to the earlier ones."""
    tag = uuid.uuid4().hex[:8]
    bodies = [
        signed(stripe_event("payment_intent.succeeded", o, f"{tag}{i:06d}"), secret)
        for i, o in enumerate(orders)
    ]
    due: dict[str, float] = {}
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(body: bytes, signature: str) -> None:
            headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    statuses.append(resp.status)
            except aiohttp.ClientError:
                statuses.append(0)

        began_wall, began = time.time(), time.perf_counter()
        tasks = []
        for i, (order_id, (body, signature)) in enumerate(zip(orders, bodies, strict=True)):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            due[order_id] = began_wall + i / rate
            tasks.append(asyncio.create_task(post(body, signature)))
        sent_s = time.perf_counter() - began
        await asyncio.gather(*tasks)
    errors = sum(1 for s in statuses if s != 200)
    return {"due": due, "errors": errors, "sent_per_s": round(len(orders) / sent_s, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.orders_support")
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--rate", type=float, required=True)
    args = parser.parse_args(argv)
    if not args.url.startswith("http://127.0.0.1:"):
        parser.error("loopback only: --url must start with http://127.0.0.1:")
    orders = json.load(sys.stdin)
    print(json.dumps(asyncio.run(send_at_rate(args.url, args.secret, orders, args.rate))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
