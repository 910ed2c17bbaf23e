"""Backfill in slices: a long window is listed and published a slice at a time, oldest first,
and connected accounts are listed once, then only the new ones."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from libs.common.stripe_client import make_client
from services.ingest import backfill
from tests.integration.ingest.conftest import Emulator, IngestServer
from tests.integration.ingest.test_webhooks import create_customers, event_ids
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


async def test_a_window_is_published_slice_by_slice_in_the_order_events_happened(
    emulator: Emulator, ingest: IngestServer
) -> None:
    # given events over three seconds whose webhooks were all dropped
    await emulator.faults(drop_rate=1.0)
    since = int(time.time())
    for _ in range(3):
        await asyncio.to_thread(create_customers, ingest, 2)
        await asyncio.sleep(1.0)
    await emulator.idle()
    expected = await event_ids(emulator)
    # when a backfill runs in one-second slices
    settings = ingest.settings.model_copy(update={"backfill_slice_s": 1})
    report = await backfill.run(settings, ingest.runtime.publisher, since=since)
    # then every event is published once, oldest first
    assert (report.listed, report.published) == (len(expected), len(expected))
    topic = f"{settings.topic_prefix}stripe.events"
    records = await read_topic(settings.kafka_bootstrap_servers, topic, expected=len(expected))
    # one publish at a time: the records' timestamps are the order they were published in
    in_order = sorted(records, key=lambda r: r.timestamp()[1])
    created = [json.loads(r.value())["payload"]["created"] for r in in_order]
    ours = [c for c in created if c >= since]
    assert len(ours) == len(expected) and ours == sorted(ours)


async def test_connected_accounts_are_listed_incrementally(ingest: IngestServer) -> None:
    client = make_client(ingest.settings)
    accounts = backfill.Accounts()
    first = await asyncio.to_thread(accounts.refresh, client)
    assert first[0] is None
    made = await asyncio.to_thread(client.v1.accounts.create, params={"type": "express"})
    second = await asyncio.to_thread(accounts.refresh, client)
    assert second[: len(first)] == first and second[-1] == made.id
    # a refresh with nothing new keeps the list as it is, each account once
    assert await asyncio.to_thread(accounts.refresh, client) == second
    assert len(set(second)) == len(second)
