"""The Kafka helpers against the real broker: round trip with commits, and the DLQ."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import confluent_kafka
import pytest

from libs.common.contracts import stripe_events
from libs.common.contracts.envelope import Envelope
from libs.common.kafka.consumer import KafkaConsumer
from libs.common.kafka.producer import Delivered, DeliveryError, KafkaProducer
from libs.common.topics import STRIPE_EVENTS, TopicNames
from tests.support.backends import Infra
from tests.support.kafka import read_topic


def _event(n: int) -> Envelope[stripe_events.StripeEventReceived]:
    payload = stripe_events.StripeEventReceived(
        event_id=f"evt_{n}",
        event_type="payment_intent.succeeded",
        created=1_700_000_000 + n,
        endpoint="platform",
        received_at=datetime.now(UTC),
        order_id="ord_1",
        event={"id": f"evt_{n}", "object": "event"},
    )
    return Envelope(producer="tests", correlation_id="ord_1", payload=payload)


async def _consume(
    infra: Infra, topics: TopicNames, group_id: str, producer: KafkaProducer, expected: int
) -> list[Envelope[stripe_events.StripeEventReceived]]:
    seen: list[Envelope[stripe_events.StripeEventReceived]] = []
    stop = asyncio.Event()

    async def handle(msg: confluent_kafka.Message) -> None:
        seen.append(stripe_events.CONTRACT.decode(msg.value()))
        if len(seen) >= expected:
            stop.set()

    consumer = KafkaConsumer(
        infra.kafka_bootstrap,
        group_id=group_id,
        topics=[topics.name(STRIPE_EVENTS)],
        client_id="tests",
        dlq_producer=producer,
        dlq_for=lambda topic: f"{topic}.dlq",
    )
    await asyncio.wait_for(consumer.run(handle, stop), timeout=60)
    return seen


async def test_contract_message_round_trips_and_commits(
    infra: Infra, topics: TopicNames, group_id: str, producer: KafkaProducer
) -> None:
    # given three events produced with the idempotent producer
    topic = topics.name(STRIPE_EVENTS)
    for n in range(3):
        delivered = await producer.send(
            topic, stripe_events.CONTRACT.encode(_event(n)), key="ord_1"
        )
        assert delivered.topic == topic
    # when a consumer group reads them, then they arrive whole and in order
    seen = await _consume(infra, topics, group_id, producer, expected=3)
    assert [e.payload.event_id for e in seen] == ["evt_0", "evt_1", "evt_2"]
    # and after one more record, the same group resumes after what it committed
    await producer.send(topic, stripe_events.CONTRACT.encode(_event(3)), key="ord_1")
    resumed = await _consume(infra, topics, group_id, producer, expected=1)
    assert [e.payload.event_id for e in resumed] == ["evt_3"]


async def test_bad_message_goes_to_dlq_with_reason(
    infra: Infra, topics: TopicNames, group_id: str, producer: KafkaProducer
) -> None:
    topic = topics.name(STRIPE_EVENTS)
    await producer.send(topic, b'{"producer": "x", "payload": {"type": "Nope"}}', key="k1")
    await producer.send(topic, stripe_events.CONTRACT.encode(_event(7)), key="ord_1")

    good = await _consume(infra, topics, group_id, producer, expected=1)
    assert [e.payload.event_id for e in good] == ["evt_7"]

    (msg,) = await read_topic(infra.kafka_bootstrap, topics.dlq(STRIPE_EVENTS), expected=1)
    headers = dict(msg.headers() or [])
    assert b"payload" in headers["dlq.reason"]
    assert headers["dlq.topic"].decode() == topic
    assert msg.key() == b"k1"


@pytest.mark.parametrize("poll_thread", [True, False], ids=["poll-thread", "loop-polls"])
async def test_concurrent_sends_each_get_their_own_report(
    infra: Infra, topics: TopicNames, poll_thread: bool
) -> None:
    # given a producer whose reports are served by a thread (handed over a poll at a time)
    # or by the event loop itself
    client = KafkaProducer(infra.kafka_bootstrap, client_id="tests", poll_thread=poll_thread)
    topic = topics.name(STRIPE_EVENTS)
    try:
        # when eight tasks send 25 records each, at once
        async def send(task: int) -> list[Delivered | DeliveryError]:
            records = [(f"ord_{task}", f"{task}:{n}".encode()) for n in range(25)]
            return await client.send_each(topic, records)

        outcomes = await asyncio.wait_for(asyncio.gather(*(send(task) for task in range(8))), 30)
    finally:
        client.close()
    # then every record has a report of its own: on the broker, at a place no other has
    places = [outcome for batch in outcomes for outcome in batch]
    assert all(isinstance(place, Delivered) for place in places)
    assert len({(p.partition, p.offset) for p in places if isinstance(p, Delivered)}) == 200
    # and a key's records keep the order they were sent in
    stored = await read_topic(infra.kafka_bootstrap, topic, expected=200)
    by_key: dict[bytes, list[int]] = {}
    for msg in stored:
        by_key.setdefault(msg.key(), []).append(int(msg.value().split(b":")[1]))
    assert by_key == {f"ord_{task}".encode(): list(range(25)) for task in range(8)}
