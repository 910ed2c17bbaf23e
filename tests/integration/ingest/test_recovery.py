"""Nothing lost: a broker outage answered with 503 until Stripe's retries land, and backfill
publishing exactly the events whose webhooks were dropped."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.infra.components import Kafka, Postgres
from devtools.infra.process import free_port
from libs.common.kafka.admin import ensure_topics
from libs.common.stripe_client import make_client
from libs.common.topics import TopicNames
from services.ingest import backfill
from tests.integration.ingest.conftest import (
    Emulator,
    IngestServer,
    ingest_settings,
    published_ids,
)
from tests.integration.ingest.test_webhooks import create_customers, event_ids
from tests.support.backends import Infra

pytestmark = pytest.mark.integration


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Kafka]:
    """A Tansu of this test's own, so that stopping it leaves the session's broker alone."""
    broker = Kafka(tmp_path / "var", free_port())
    broker.up(timeout=30)
    try:
        yield broker
    finally:
        broker.down()


async def test_broker_down_answers_503_and_retries_land_every_event(
    infra: Infra, emulator: Emulator, own_broker: Kafka, topics: TopicNames
) -> None:
    ensure_topics(own_broker.url(), topics.all_names())
    settings = ingest_settings(
        infra, emulator, topics, kafka_bootstrap_servers=own_broker.url(), publish_timeout_s=1.5
    )
    ingest = IngestServer(settings)
    await ingest.start()
    try:
        # given the broker stopped
        own_broker.down()
        # when events happen, and when a signed webhook arrives directly
        await asyncio.to_thread(create_customers, ingest, 5)
        body = b'{"id":"evt_direct0000000000000001","object":"event","type":"x","created":1,'
        body += b'"data":{"object":{"id":"cus_x"}}}'
        status, answer = await ingest.post(body, ingest.signed(body))
        # then ingest answers 503, so that Stripe keeps retrying
        assert (status, answer["error"]["code"]) == (503, "broker_unavailable")
        # when the broker is back (empty: Tansu keeps nothing), topics are made again
        await asyncio.sleep(2.0)
        await asyncio.to_thread(own_broker.up, 30)
        await asyncio.to_thread(ensure_topics, own_broker.url(), topics.all_names())
        # each retry waits out PUBLISH_TIMEOUT_S while the broker is away, and librdkafka
        # reconnects with backoff once it is back: on a loaded machine that takes a while
        await emulator.idle(timeout=150)
        # then Stripe's retries have landed every event exactly once
        expected = await event_ids(emulator)
        assert len(expected) == 5
        found = await published_ids(own_broker.url(), topics, expected=5)
        deliveries = [
            await emulator.call("GET", f"/_emulator/events/{event_id}/deliveries")
            for event_id in expected
        ]
        assert Counter(found) == Counter(expected), f"deliveries: {deliveries}"
    finally:
        await ingest.stop()


async def test_backfill_publishes_exactly_the_dropped_events(
    infra: Infra, emulator: Emulator, ingest: IngestServer, topics: TopicNames
) -> None:
    # given 4 events delivered, then 3 whose webhooks Stripe dropped
    await asyncio.to_thread(create_customers, ingest, 4)
    await emulator.idle()
    delivered = await event_ids(emulator)
    await emulator.faults(drop_rate=1.0)
    since = int(time.time()) - 60
    await asyncio.to_thread(create_customers, ingest, 3)
    await emulator.idle()
    dropped = [e for e in await event_ids(emulator) if e not in delivered]
    assert len(dropped) == 3
    assert len(await published_ids(infra.kafka_bootstrap, topics, expected=4)) == 4
    # when backfill runs over all of them, and then over the undelivered ones
    runtime = ingest.runtime
    report = await backfill.run(ingest.settings, runtime.publisher, since=since)
    again = await backfill.run(ingest.settings, runtime.publisher, since=None, undelivered=True)
    # then exactly the dropped ones were published, once
    assert (report.listed, report.published, report.duplicates) == (7, 3, 4)
    assert (again.listed, again.published) == (3, 0)
    found = await published_ids(infra.kafka_bootstrap, topics, expected=7)
    assert Counter(found) == Counter(delivered + dropped)


async def test_backfill_since_an_event_id_and_at_start_up(
    infra: Infra, emulator: Emulator, ingest: IngestServer, topics: TopicNames
) -> None:
    # given one delivered event, then two dropped ones, and ingest restarted with backfill on
    await asyncio.to_thread(create_customers, ingest, 1)
    await emulator.idle()
    (first,) = await event_ids(emulator)
    await emulator.faults(drop_rate=1.0)
    await asyncio.to_thread(create_customers, ingest, 2)
    await emulator.idle()
    report = await backfill.run(ingest.settings, ingest.runtime.publisher, since=first)
    assert (report.listed, report.published) == (3, 2)
    # and the start-up backfill finds nothing left to publish
    client = make_client(ingest.settings)
    await asyncio.to_thread(client.v1.customers.create, params={"email": "late@example.com"})
    await emulator.idle()
    await ingest.stop()
    restarted = IngestServer(ingest.settings.model_copy(update={"backfill_on_start": True}))
    await restarted.start()
    try:
        found = await published_ids(infra.kafka_bootstrap, topics, expected=4, settle=1.0)
        assert sorted(found) == sorted(await event_ids(emulator))
    finally:
        await restarted.stop()


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[Postgres]:
    """A PostgreSQL of this test's own, so that stopping it leaves the session's alone."""
    database = Postgres(tmp_path / "var", free_port())
    database.up(timeout=60)
    try:
        yield database
    finally:
        database.down()


async def test_postgres_down_is_a_503_that_says_so(
    infra: Infra, emulator: Emulator, own_postgres: Postgres, topics: TopicNames
) -> None:
    settings = ingest_settings(
        infra, emulator, topics, database_url=own_postgres.url(), publish_timeout_s=3.0
    )
    ingest = IngestServer(settings)
    await ingest.start()
    try:
        # given PostgreSQL, which keeps the published ids, stopped
        await asyncio.to_thread(own_postgres.down)
        body = b'{"id":"evt_pgdown000000000000001","object":"event","type":"x","created":1,'
        body += b'"data":{"object":{"id":"cus_x"}}}'
        # when a signed webhook arrives, then the answer is a 503 naming the ledger
        status, answer = await ingest.post(body, ingest.signed(body))
        assert (status, answer["error"]["code"]) == (503, "ledger_unavailable")
        # and once PostgreSQL is back, Stripe's retry is published
        await asyncio.to_thread(own_postgres.up, 60)
        for _ in range(50):
            status, answer = await ingest.post(body, ingest.signed(body))
            if status == 200:
                break
            await asyncio.sleep(0.2)
        assert status == 200, answer
    finally:
        await ingest.stop()
