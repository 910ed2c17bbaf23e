"""The one dedupe-and-publish path, shared by webhooks and backfill.

An event is answered as published only after the broker's delivery report (acks=all) and the
dedupe row are both done; whatever fails or runs past the deadline raises `BrokerUnavailable`,
which the HTTP layer turns into 503 so that Stripe retries. Nothing is half-done: the claim's
transaction rolls back and the next delivery starts over.
"""

from __future__ import annotations

import asyncio
import enum
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from libs.common.contracts.envelope import Envelope
from libs.common.contracts.stripe_events import CONTRACT, StripeEventReceived
from services.ingest import routing
from services.ingest.dedupe import Claim, Delivered, EventLedger, RecentIds
from services.ingest.metrics import IngestMetrics

Source = Literal["platform", "connect", "backfill"]


class BrokerUnavailable(RuntimeError):
    """The event is not on the broker (unreachable, refused, or past the deadline)."""


class Broker(ABC):
    """Where verified events go; `send` returns only once the broker has the record."""

    @abstractmethod
    async def send(self, topic: str, value: bytes, key: str) -> None: ...

    @abstractmethod
    async def reachable(self, timeout_s: float = 2.0) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...


class Outcome(enum.Enum):
    PUBLISHED = "published"
    DUPLICATE = "duplicate"


def build_message(
    event: dict[str, Any], source: Source, route: routing.Route
) -> Envelope[StripeEventReceived]:
    payload = StripeEventReceived(
        event_id=event["id"],
        event_type=event["type"],
        api_version=event.get("api_version"),
        livemode=bool(event.get("livemode")),
        created=event["created"],
        account=event.get("account"),
        endpoint=source,
        received_at=datetime.now(UTC),
        object_id=route.object_id,
        order_id=route.order_id,
        event=event,
    )
    return Envelope(
        producer="ingest", correlation_id=route.order_id, causation_id=event["id"], payload=payload
    )


@dataclass
class Pending:
    event: dict[str, Any]
    source: Source
    done: asyncio.Future[Outcome]
    queued_at: float = field(default_factory=time.perf_counter)


class Publisher:
    """Concurrent publishes are grouped: each of `workers` takes whatever is queued (up to
    `max_batch`), claims it in one transaction, produces every record, waits for every
    delivery report and commits. A batch forms by itself while the previous one is in flight,
    so a quiet ingest publishes one event at a time and a busy one amortises the database."""

    def __init__(
        self,
        ledger: EventLedger,
        broker: Broker,
        *,
        topic: str,
        metrics: IngestMetrics,
        recent: RecentIds,
        deadline_s: float,
        workers: int = 4,
        max_batch: int = 256,
    ) -> None:
        self._ledger = ledger
        self._broker = broker
        self._topic = topic
        self._metrics = metrics
        self._recent = recent
        self._deadline_s = deadline_s
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._workers = [asyncio.create_task(self._work()) for _ in range(workers)]

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def publish(self, event: dict[str, Any], source: Source) -> Outcome:
        """Publish `event` unless it already was; raises `BrokerUnavailable` otherwise."""
        if event["id"] in self._recent:
            self._metrics.duplicates.labels(source).inc()
            return Outcome.DUPLICATE
        pending = Pending(event, source, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(pending)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(pending.done), self._deadline_s)
        except TimeoutError as exc:
            raise BrokerUnavailable(
                f"no delivery report within {self._deadline_s} s; try again"
            ) from exc
        if outcome is Outcome.DUPLICATE:
            self._metrics.duplicates.labels(source).inc()
        else:
            self._metrics.published.labels(source).inc()
            self._metrics.publish_latency.observe(time.perf_counter() - pending.queued_at)
        return outcome

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                async with asyncio.timeout(self._deadline_s):
                    await self._publish_batch(batch)
            except Exception as exc:
                failure = BrokerUnavailable(f"the events are not on the broker: {exc}")
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(failure)

    async def _publish_batch(self, batch: list[Pending]) -> None:
        first: dict[str, Pending] = {}
        for pending in batch:
            first.setdefault(pending.event["id"], pending)
        created = {i: int(p.event["created"]) for i, p in first.items()}
        async with self._ledger.claim(created) as claim:
            fresh = [p for i, p in first.items() if i not in claim.already_published]
            routes = await _routes(claim, [p.event for p in fresh])
            results = await asyncio.gather(
                *(self._send(p, routes[p.event["id"]]) for p in fresh), return_exceptions=True
            )
            outcomes: dict[str, Outcome | BaseException] = dict.fromkeys(
                claim.already_published, Outcome.DUPLICATE
            )
            delivered = []
            for pending, result in zip(fresh, results, strict=True):
                event_id = pending.event["id"]
                outcomes[event_id] = result if result is not None else Outcome.PUBLISHED
                if result is None:
                    route = routes[event_id]
                    delivered.append(Delivered(event_id, route.order_id, _learnable(pending)))
            await claim.mark_published(delivered)
        self._settle(batch, outcomes)

    async def _send(self, pending: Pending, route: routing.Route) -> None:
        value = CONTRACT.encode(build_message(pending.event, pending.source, route))
        await self._broker.send(self._topic, value, route.key)

    def _settle(self, batch: list[Pending], outcomes: dict[str, Outcome | BaseException]) -> None:
        """Answer every request; a repeat of an id within the batch is a DUPLICATE of it."""
        answered: set[str] = set()
        for pending in batch:
            event_id = pending.event["id"]
            outcome = outcomes[event_id]
            if isinstance(outcome, BaseException):
                pending.done.set_exception(BrokerUnavailable(str(outcome)))
                continue
            self._recent.add(event_id)
            repeat = event_id in answered
            answered.add(event_id)
            pending.done.set_result(Outcome.DUPLICATE if repeat else outcome)


def _learnable(pending: Pending) -> tuple[str, ...]:
    return routing.learnable_ids(routing.event_object(pending.event))


async def _routes(claim: Claim, events: list[dict[str, Any]]) -> dict[str, routing.Route]:
    """One look-up of learned order ids for every event that carries none itself."""
    wanted: list[str] = []
    for event in events:
        obj = routing.event_object(event)
        if routing.carried_order_id(obj) is None:
            wanted.extend(routing.related_ids(obj))
    learned = await claim.learned_orders(sorted(set(wanted))) if wanted else {}
    return {event["id"]: routing.route(event, learned) for event in events}
