"""Stripe's real signed webhooks, through the emulator, onto `stripe.events` exactly once."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest

from libs.common.contracts.stripe_events import CONTRACT
from libs.common.stripe_client import make_client
from libs.common.topics import STRIPE_EVENTS, TopicNames
from tests.integration.ingest.conftest import Emulator, IngestServer, published_ids
from tests.support.backends import Infra
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


def create_customers(ingest: IngestServer, count: int) -> list[str]:
    client = make_client(ingest.settings)
    made = [client.v1.customers.create(params={"email": f"c{i}@example.com"}) for i in range(count)]
    return [c.id for c in made]


async def event_ids(emulator: Emulator) -> list[str]:
    return await asyncio.to_thread(_all_events, emulator.url)


def _all_events(url: str) -> list[str]:
    from libs.common.settings import CommonSettings

    client = make_client(CommonSettings(stripe_api_base=url))
    return [e.id for e in client.v1.events.list(params={"limit": 100}).auto_paging_iter()]


async def test_each_event_lands_once_under_duplicates_and_shuffling(
    infra: Infra, emulator: Emulator, ingest: IngestServer, topics: TopicNames
) -> None:
    # given Stripe sending every webhook three times, in shuffled batches
    await emulator.faults(duplicate=2, shuffle_window=5)
    # when 12 customers are created
    await asyncio.to_thread(create_customers, ingest, 12)
    await emulator.idle()
    # then each of the 12 events is on the topic exactly once
    expected = await event_ids(emulator)
    assert len(expected) == 12
    found = await published_ids(infra.kafka_bootstrap, topics, expected=12)
    assert Counter(found) == Counter(expected)
    text = await _metrics(ingest)
    assert "ingest_events_duplicate_total" in text


async def test_concurrent_duplicates_publish_once(
    infra: Infra, emulator: Emulator, ingest: IngestServer, topics: TopicNames
) -> None:
    # given a delivered event, and the very same signed request fired 20 times at once
    (customer,) = await asyncio.to_thread(create_customers, ingest, 1)
    await emulator.idle()
    (event_id,) = await event_ids(emulator)
    body = json.dumps(await emulator.event(event_id)).encode()
    await emulator.call("POST", "/_emulator/reset")  # later duplicates are ours alone
    signature = ingest.signed(body)
    fresh = body.replace(event_id.encode(), b"evt_concurrent" + customer.encode()[4:14])
    fresh_signature = ingest.signed(fresh)
    # when: duplicates of a known event, and duplicates of a never-seen one, all concurrent
    results = await asyncio.gather(
        *[ingest.post(body, signature) for _ in range(20)],
        *[ingest.post(fresh, fresh_signature) for _ in range(20)],
    )
    # then all are acknowledged, and each event id is on the topic once
    assert {status for status, _ in results} == {200}
    found = await published_ids(infra.kafka_bootstrap, topics, expected=2)
    assert Counter(found) == Counter([event_id, json.loads(fresh)["id"]])


async def test_events_are_keyed_by_order_even_without_metadata(
    infra: Infra, emulator: Emulator, ingest: IngestServer, topics: TopicNames
) -> None:
    # given a paid PaymentIntent that carries the order id in its metadata
    client = make_client(ingest.settings)
    intent = await asyncio.to_thread(
        client.v1.payment_intents.create,
        params={
            "amount": 2500,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "metadata": {"order_id": "ord_42"},
        },
    )
    await emulator.idle()
    # when the buyer disputes the charge (the dispute carries no metadata)
    await emulator.call("POST", f"/_emulator/charges/{intent.latest_charge}/dispute", {})
    await emulator.idle()
    expected = await event_ids(emulator)
    records = await read_topic(
        infra.kafka_bootstrap, topics.name(STRIPE_EVENTS), expected=len(expected)
    )
    keyed = {CONTRACT.decode(r.value()).payload.event_type: r.key() for r in records}
    # then every event, dispute included, is keyed by the order id
    assert "charge.dispute.created" in keyed
    assert set(keyed.values()) == {b"ord_42"}


async def _metrics(ingest: IngestServer) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(ingest.url + "/metrics") as resp:
        return await resp.text()


def _event_body(event_id: str = "evt_handmade000000000001") -> bytes:
    event: dict[str, Any] = {
        "id": event_id,
        "object": "event",
        "type": "customer.created",
        "created": int(time.time()),
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    return json.dumps(event).encode()


async def test_bad_requests_are_refused_and_nothing_is_published(
    infra: Infra, ingest: IngestServer, topics: TopicNames
) -> None:
    body = _event_body()
    now = int(time.time())
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    cases = [
        (body, ingest.signed(body, secret="whsec_forged"), 400, "bad_signature"),
        (body, None, 400, "missing_signature"),
        (body, "t=abc", 400, "malformed_signature"),
        (body, ingest.signed(body, t=now - 3600), 400, "stale_timestamp"),
        (body, ingest.signed(body, t=now + 3600), 400, "future_timestamp"),
        (big, ingest.signed(big), 413, "body_too_large"),
        (b"not json", ingest.signed(b"not json"), 400, "invalid_json"),
        (b'{"id": 1}', ingest.signed(b'{"id": 1}'), 400, "not_an_event"),
    ]
    for payload, signature, status, code in cases:
        got_status, got = await ingest.post(payload, signature)
        assert (got_status, got["error"]["code"]) == (status, code), got
        assert got["error"]["message"]
    # a Connect secret does not open the platform endpoint, and vice versa
    connect_signed = ingest.signed(body, secret=ingest.runtime.secrets["connect"][0])
    assert (await ingest.post(body, connect_signed))[0] == 400
    found = await published_ids(infra.kafka_bootstrap, topics, expected=0, settle=1.0)
    assert found == []
    metrics = await _metrics(ingest)
    assert 'reason="stale_timestamp"' in metrics


async def test_a_restart_keeps_dedupe(
    infra: Infra, emulator: Emulator, ingest: IngestServer, topics: TopicNames
) -> None:
    # given an event published before a restart
    body = _event_body("evt_restart" + str(time.time_ns())[-12:])
    assert (await ingest.post(body, ingest.signed(body)))[0] == 200
    await ingest.restart()
    # when Stripe delivers it again after the restart (memory is empty now)
    status, answer = await ingest.post(body, ingest.signed(body))
    # then it is acknowledged as a duplicate and the topic has it once
    assert (status, answer["duplicate"]) == (200, True)
    found = await published_ids(infra.kafka_bootstrap, topics, expected=1)
    assert len(found) == 1
    # and the emulator's endpoints were reused, so its deliveries still verify
    await asyncio.to_thread(create_customers, ingest, 1)
    await emulator.idle()
    assert len(await published_ids(infra.kafka_bootstrap, topics, expected=2)) == 2
