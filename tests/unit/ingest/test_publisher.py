"""The publisher against in-memory ports: batching, duplicates, refusals, deadlines, routing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from libs.common.stripe_client import STRIPE_API_VERSION
from services.ingest.dedupe import Claim, EventLedger, Lesson, RecentIds
from services.ingest.metrics import IngestMetrics
from services.ingest.publisher import (
    Broker,
    BrokerUnavailable,
    Deadlines,
    LedgerUnavailable,
    Outcome,
    Overloaded,
    Publisher,
    PublishFailed,
    Record,
    Unavailable,
)


class MemoryClaim(Claim):
    def __init__(self, published: frozenset[str]) -> None:
        self.already_published = published
        self.failed: list[str] = []

    async def undelivered(self, event_ids: Sequence[str]) -> None:
        self.failed.extend(event_ids)


class MemoryLedger(EventLedger):
    """Commits what a claim marked when its context ends without an error, as PostgreSQL does."""

    def __init__(self) -> None:
        self.published: set[str] = set()
        self.learned: dict[str, str] = {}
        self.lookups: list[list[str]] = []
        self.claims: list[list[str]] = []

    async def learned_orders(self, ids: Sequence[str]) -> dict[str, str]:
        self.lookups.append(list(ids))
        return {i: self.learned[i] for i in ids if i in self.learned}

    @asynccontextmanager
    async def claim(
        self, events: Mapping[str, int], lessons: Sequence[Lesson]
    ) -> AsyncIterator[Claim]:
        self.claims.append(sorted(events))
        claim = MemoryClaim(frozenset(i for i in events if i in self.published))
        yield claim
        delivered = {i for i in events if i not in claim.already_published} - set(claim.failed)
        self.published |= delivered
        for lesson in lessons:
            if lesson.event_id in delivered:
                for stripe_id in lesson.ids:
                    self.learned.setdefault(stripe_id, lesson.order_id)

    async def last_seen_created(self) -> int | None:
        return None


class MemoryBroker(Broker):
    def __init__(self, refuse: Callable[[Record], bool] = lambda _: False) -> None:
        self.records: list[Record] = []
        self.refuse = refuse
        self.hang = False

    async def send_many(self, topic: str, records: Sequence[Record]) -> list[Exception | None]:
        if self.hang:
            await asyncio.Event().wait()
        self.records.extend(records)
        return [RuntimeError("refused") if self.refuse(r) else None for r in records]

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        return True

    def close(self) -> None:
        pass


@pytest.fixture
def ledger() -> MemoryLedger:
    return MemoryLedger()


@pytest.fixture
def broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
async def publisher(ledger: MemoryLedger, broker: MemoryBroker) -> AsyncIterator[Publisher]:
    made = Publisher(
        ledger,
        broker,
        topic="stripe.events",
        metrics=IngestMetrics(),
        recent=RecentIds(100),
        deadline_s=0.2,
        workers=1,
    )
    yield made
    await made.close()


def event(event_id: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": "x.y", "created": 1, "data": {"object": obj}}


def keys(broker: MemoryBroker) -> dict[str, str]:
    return {json.loads(value)["payload"]["event_id"]: key for value, key in broker.records}


async def test_concurrent_publishes_share_one_claim_and_a_repeat_is_a_duplicate(
    publisher: Publisher, ledger: MemoryLedger, broker: MemoryBroker
) -> None:
    one, two = event("evt_1", {"id": "cus_1"}), event("evt_2", {"id": "cus_2"})

    outcomes = await asyncio.gather(
        publisher.publish(one, "platform"),
        publisher.publish(one, "platform"),
        publisher.publish(two, "connect"),
    )

    assert outcomes == [Outcome.PUBLISHED, Outcome.DUPLICATE, Outcome.PUBLISHED]
    assert ledger.claims == [["evt_1", "evt_2"]]
    assert sorted(keys(broker)) == ["evt_1", "evt_2"]


async def test_an_event_published_before_is_acknowledged_without_producing(
    publisher: Publisher, ledger: MemoryLedger, broker: MemoryBroker
) -> None:
    ledger.published.add("evt_old")
    old = event("evt_old", {"id": "cus_1"})

    assert await publisher.publish(old, "platform") is Outcome.DUPLICATE
    # and the next delivery is answered from memory, without a claim
    assert await publisher.publish(old, "platform") is Outcome.DUPLICATE
    assert broker.records == []
    assert ledger.claims == [["evt_old"]]


async def test_a_refused_record_is_unavailable_and_unpublished_while_the_rest_land(
    publisher: Publisher, ledger: MemoryLedger, broker: MemoryBroker
) -> None:
    broker.refuse = lambda record: b'"evt_bad"' in record[0]
    good = event("evt_good", {"id": "pi_1", "metadata": {"order_id": "ord_1"}})
    bad = event("evt_bad", {"id": "pi_2", "metadata": {"order_id": "ord_2"}})

    outcomes = await asyncio.gather(
        publisher.publish(good, "platform"),
        publisher.publish(bad, "platform"),
        return_exceptions=True,
    )

    assert outcomes[0] is Outcome.PUBLISHED
    assert isinstance(outcomes[1], BrokerUnavailable)
    assert ledger.published == {"evt_good"}
    assert ledger.learned == {"pi_1": "ord_1"}


async def test_past_the_deadline_a_publish_is_unavailable(
    publisher: Publisher, broker: MemoryBroker
) -> None:
    broker.hang = True
    started = asyncio.get_running_loop().time()

    with pytest.raises(BrokerUnavailable):
        await publisher.publish(event("evt_slow", {"id": "cus_1"}), "platform")

    assert asyncio.get_running_loop().time() - started < 1.0


async def test_one_timer_expires_every_waiting_publish_in_turn() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop, 0.2)
    early, answered, late = loop.create_future(), loop.create_future(), loop.create_future()
    deadlines.watch(early)
    deadlines.watch(answered)
    await asyncio.sleep(0.1)
    deadlines.watch(late)
    answered.set_result(Outcome.PUBLISHED)

    with pytest.raises(BrokerUnavailable):
        await early
    assert not late.done()
    with pytest.raises(BrokerUnavailable):
        await late
    assert answered.result() is Outcome.PUBLISHED


async def test_records_are_keyed_by_order_and_teach_what_they_know(
    publisher: Publisher, ledger: MemoryLedger, broker: MemoryBroker
) -> None:
    ledger.learned["pi_9"] = "ord_9"
    intent = {"id": "pi_1", "latest_charge": "ch_1", "metadata": {"order_id": "ord_1"}}
    dispute = {"id": "du_1", "charge": "ch_9", "payment_intent": "pi_9"}

    await asyncio.gather(
        publisher.publish(event("evt_intent", intent), "platform"),
        publisher.publish(event("evt_dispute", dispute), "platform"),
        publisher.publish(event("evt_customer", {"id": "cus_1"}), "platform"),
    )

    assert keys(broker) == {"evt_intent": "ord_1", "evt_dispute": "ord_9", "evt_customer": "cus_1"}
    # only the dispute needed a look-up, and only of ids an order can own
    assert ledger.lookups == [["ch_9", "pi_9"]]
    assert ledger.learned == {"pi_1": "ord_1", "ch_1": "ord_1", "pi_9": "ord_9", "ch_9": "ord_9"}


async def test_without_an_event_that_needs_it_nothing_is_looked_up(
    publisher: Publisher, ledger: MemoryLedger
) -> None:
    intent = {"id": "pi_1", "metadata": {"order_id": "ord_1"}}
    await publisher.publish(event("evt_1", intent), "platform")
    await publisher.publish(event("evt_2", {"id": "cus_1", "object": "customer"}), "platform")
    assert ledger.lookups == []


async def test_events_in_another_api_version_are_counted_and_still_published(
    ledger: MemoryLedger, broker: MemoryBroker, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = IngestMetrics()
    publisher = Publisher(
        ledger, broker, topic="stripe.events", metrics=metrics, recent=RecentIds(100),
        deadline_s=0.2,
    )  # fmt: skip
    try:
        old = {**event("evt_old_1", {"id": "pi_1"}), "api_version": "2020-08-27"}
        again = {**event("evt_old_2", {"id": "pi_2"}), "api_version": "2020-08-27"}
        ours = {**event("evt_new", {"id": "pi_3"}), "api_version": STRIPE_API_VERSION}
        for one in (old, again, ours):
            assert await publisher.publish(one, "platform") is Outcome.PUBLISHED
    finally:
        await publisher.close()
    counted = metrics.registry.get_sample_value(
        "ingest_events_other_api_version_total", {"api_version": "2020-08-27"}
    )
    assert counted == 2
    warnings = [r for r in caplog.records if "2020-08-27" in r.getMessage()]
    assert len(warnings) == 1


class DownLedger(MemoryLedger):
    """PostgreSQL gone: the adapter reports it as `LedgerUnavailable`."""

    @asynccontextmanager
    async def claim(
        self, events: Mapping[str, int], lessons: Sequence[Lesson]
    ) -> AsyncIterator[Claim]:
        raise LedgerUnavailable("connection refused")
        yield MemoryClaim(frozenset())  # pragma: no cover - never reached


class BuggyBroker(MemoryBroker):
    async def send_many(self, topic: str, records: Sequence[Record]) -> list[Exception | None]:
        raise KeyError("a bug of ours")


async def _publish_with(ledger: MemoryLedger, broker: MemoryBroker) -> BaseException:
    publisher = Publisher(
        ledger, broker, topic="stripe.events", metrics=IngestMetrics(), recent=RecentIds(10),
        deadline_s=0.5,
    )  # fmt: skip
    try:
        with pytest.raises((Unavailable, PublishFailed)) as caught:
            await publisher.publish(event("evt_1", {"id": "pi_1"}), "platform")
        return caught.value
    finally:
        await publisher.close()


async def test_outages_and_bugs_are_told_apart() -> None:
    # PostgreSQL down: a 503 that names the ledger, not the broker
    ledger_down = await _publish_with(DownLedger(), MemoryBroker())
    assert isinstance(ledger_down, LedgerUnavailable)
    assert ledger_down.code == "ledger_unavailable"
    # the broker not answering within the deadline: the broker's
    hanging = MemoryBroker()
    hanging.hang = True
    broker_down = await _publish_with(MemoryLedger(), hanging)
    assert isinstance(broker_down, BrokerUnavailable)
    assert broker_down.code == "broker_unavailable"
    # a bug: neither, so that it is answered 500 and logged with its traceback
    assert isinstance(await _publish_with(MemoryLedger(), BuggyBroker()), PublishFailed)


class LateBroker(MemoryBroker):
    """Takes the records, then answers only once released: a report lost past the deadline."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def send_many(self, topic: str, records: Sequence[Record]) -> list[Exception | None]:
        self.records.extend(records)
        await self.release.wait()
        return [None for _ in records]


async def test_a_webhook_answered_503_past_its_deadline_is_published_by_the_retry() -> None:
    # given a broker that takes the event but answers after the deadline
    ledger, broker = MemoryLedger(), LateBroker()
    publisher = Publisher(
        ledger, broker, topic="stripe.events", metrics=IngestMetrics(), recent=RecentIds(10),
        deadline_s=0.2,
    )  # fmt: skip
    try:
        late = event("evt_late", {"id": "cus_1"})
        with pytest.raises(BrokerUnavailable):
            await publisher.publish(late, "platform")
        # then the claim was not kept: the event is not marked published
        assert "evt_late" not in ledger.published
        # when Stripe retries with the broker answering again, the retry publishes it
        broker.release.set()
        assert await publisher.publish(late, "platform") is Outcome.PUBLISHED
    finally:
        await publisher.close()
    # and the topic may hold the first copy too: consumers drop it by event id
    assert list(keys(broker)) == ["evt_late"] and len(broker.records) == 2


async def test_past_the_queue_bound_a_webhook_is_refused_at_once() -> None:
    # given a broker that does not answer, and room for two waiting webhooks
    broker = MemoryBroker()
    broker.hang = True
    metrics = IngestMetrics()
    publisher = Publisher(
        MemoryLedger(), broker, topic="stripe.events", metrics=metrics, recent=RecentIds(10),
        deadline_s=5.0, queue_max=2,
    )  # fmt: skip
    try:
        first = asyncio.create_task(publisher.publish(event("evt_1", {"id": "a"}), "platform"))
        await asyncio.sleep(0.05)  # the worker has taken it and waits on the broker
        waiting = [
            asyncio.create_task(publisher.publish(event(f"evt_{i}", {"id": "a"}), "platform"))
            for i in (2, 3)
        ]
        await asyncio.sleep(0.05)
        assert metrics.registry.get_sample_value("ingest_publish_queue_depth") == 2
        # when one more arrives, then it is refused at once, with its own reason
        with pytest.raises(Overloaded) as refused:
            await publisher.publish(event("evt_4", {"id": "a"}), "platform")
        assert refused.value.code == "overloaded"
    finally:
        await publisher.close()
        for task in (first, *waiting):
            task.cancel()
