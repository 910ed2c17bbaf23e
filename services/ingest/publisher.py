"""The one dedupe-and-publish path, shared by webhooks and backfill.

An event is answered as published only after the broker's delivery report (acks=all) and the
dedupe row are both done; whatever fails or runs past the deadline raises `BrokerUnavailable`,
which the HTTP layer turns into 503 so that Stripe retries. Nothing is half-done: the claim's
transaction rolls back and the next delivery starts over.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from libs.common.stripe_client import STRIPE_API_VERSION
from services.ingest import message, routing
from services.ingest.dedupe import EventLedger, Lesson, RecentIds
from services.ingest.metrics import IngestMetrics

log = logging.getLogger(__name__)

Source = Literal["platform", "connect", "backfill"]
Record = tuple[bytes, str]  # value, key


class Unavailable(RuntimeError):
    """The event could not be made durable now; Stripe should retry (503). `code` says which
    part failed, so that an outage of PostgreSQL is not reported as one of the broker."""

    code = "unavailable"


class BrokerUnavailable(Unavailable):
    """The event is not on the broker (unreachable, refused, or past the deadline)."""

    code = "broker_unavailable"


class LedgerUnavailable(Unavailable):
    """PostgreSQL, which keeps the ids of published events, did not answer."""

    code = "ledger_unavailable"


class Overloaded(Unavailable):
    """More webhooks wait than `queue_max`: refused at once rather than left to time out."""

    code = "overloaded"


class PublishFailed(RuntimeError):
    """A bug, not an outage: logged with its traceback and answered 500 (Stripe retries)."""


class Stage:
    """Which part a batch is waiting on, so that its failure is reported as that part's.
    The adapters raise `Unavailable` for their own outages; a deadline passing is the
    outage of the part being waited on; anything else is a bug."""

    def __init__(self) -> None:
        self.now = "ledger"

    def failure(self, exc: BaseException) -> Exception:
        if isinstance(exc, Unavailable):
            return exc
        if isinstance(exc, TimeoutError):
            message = f"no answer within the publish deadline (waiting on the {self.now})"
            if self.now == "broker":
                return BrokerUnavailable(message)
            return LedgerUnavailable(message)
        log.error("publishing failed while waiting on the %s", self.now, exc_info=exc)
        return PublishFailed(f"{type(exc).__name__} while publishing ({self.now})")


class Broker(ABC):
    """Where verified events go; `send_many` returns only once the broker has answered for
    every record: `None` where it has the record, the error where it has not."""

    @abstractmethod
    async def send_many(self, topic: str, records: Sequence[Record]) -> list[Exception | None]: ...

    @abstractmethod
    async def reachable(self, timeout_s: float = 2.0) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...


class Outcome(enum.Enum):
    PUBLISHED = "published"
    DUPLICATE = "duplicate"


@dataclass(slots=True)
class Pending:
    event: dict[str, Any]
    raw: bytes  # the event as JSON
    source: Source
    done: asyncio.Future[Outcome]
    queued_at: float  # time.perf_counter()


class Deadlines:
    """Answers 503 to every publish still waiting `deadline_s` after it was queued, whatever
    the worker holding it is doing (a hung connection, say). Publishes expire in the order they
    were queued, so one timer, set for the oldest unanswered one, watches them all instead of a
    timer per publish."""

    def __init__(self, loop: asyncio.AbstractEventLoop, deadline_s: float) -> None:
        self._loop = loop
        self._deadline_s = deadline_s
        self._waiting: deque[tuple[float, asyncio.Future[Outcome]]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, done: asyncio.Future[Outcome]) -> None:
        expires = self._loop.time() + self._deadline_s
        self._waiting.append((expires, done))
        if self._timer is None:
            self._timer = self._loop.call_at(expires, self._expire)

    def _expire(self) -> None:
        self._timer = None
        now = self._loop.time()
        while self._waiting:
            expires, done = self._waiting[0]
            if not done.done():
                if expires > now:
                    self._timer = self._loop.call_at(expires, self._expire)
                    return
                done.set_exception(
                    BrokerUnavailable(f"no delivery report within {self._deadline_s} s; try again")
                )
            self._waiting.popleft()


class Publisher:
    """Concurrent publishes are grouped: each of `workers` takes whatever is queued (up to
    `max_batch`), claims it in one transaction, produces every record, waits for every
    delivery report and commits. A batch forms by itself while the previous one is in flight,
    so a quiet ingest publishes one event at a time and a busy one amortises the database and
    the broker, whose costs go by request much more than by record. One worker makes the
    largest batches; more overlap batches at the price of smaller ones. With one, a claim that
    waits on a row another ingest process holds (a concurrent duplicate) holds up the batches
    behind it, for at most that process's publish deadline."""

    def __init__(
        self,
        ledger: EventLedger,
        broker: Broker,
        *,
        topic: str,
        metrics: IngestMetrics,
        recent: RecentIds,
        deadline_s: float,
        workers: int = 1,
        max_batch: int = 256,
        queue_max: int = 5_000,
    ) -> None:
        self._ledger = ledger
        self._broker = broker
        self._topic = topic
        self._metrics = metrics
        self._recent = recent
        self._deadline_s = deadline_s
        self._max_batch = max_batch
        self._loop = asyncio.get_running_loop()
        self._deadlines = Deadlines(self._loop, deadline_s)
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._queue_max = queue_max
        metrics.queue_depth.set_function(self._queue.qsize)
        self._versions_seen: set[str] = set()
        self._workers = [asyncio.create_task(self._work()) for _ in range(workers)]

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def publish(
        self, event: dict[str, Any], source: Source, raw: bytes | None = None
    ) -> Outcome:
        """Publish `event` unless it already was; raises `BrokerUnavailable` otherwise.
        `raw` is the event's JSON as received (a webhook's signed body), embedded verbatim."""
        if event["id"] in self._recent:
            self._metrics.duplicates[source].inc()
            return Outcome.DUPLICATE
        if self._queue.qsize() >= self._queue_max:
            raise Overloaded(f"{self._queue_max} webhooks are waiting already; try again")
        self._check_version(event)
        done = self._loop.create_future()
        pending = Pending(event, raw or orjson.dumps(event), source, done, time.perf_counter())
        self._queue.put_nowait(pending)
        self._deadlines.watch(done)
        outcome = await done
        if outcome is Outcome.DUPLICATE:
            self._metrics.duplicates[source].inc()
        else:
            self._metrics.published[source].inc()
            self._metrics.publish_latency.observe(time.perf_counter() - pending.queued_at)
        return outcome

    def _check_version(self, event: dict[str, Any]) -> None:
        """Count events in another API version than ours, and say so once per version: the
        endpoint's version was changed at Stripe, and its objects may not read as ours do."""
        version = event.get("api_version")
        if version == STRIPE_API_VERSION or not isinstance(version, str):
            return
        self._metrics.other_api_version.labels(version[:40]).inc()
        if version not in self._versions_seen:
            self._versions_seen.add(version)
            log.warning(
                "event %s is in API version %s, not the pinned %s",
                event["id"], version, STRIPE_API_VERSION,
            )  # fmt: skip

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._metrics.batch_size.observe(len(batch))
            stage = Stage()
            try:
                async with asyncio.timeout(self._deadline_s):
                    await self._publish_batch(batch, stage)
            except Exception as exc:
                failure = stage.failure(exc)
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(failure)

    async def _publish_batch(self, batch: list[Pending], stage: Stage) -> None:
        first: dict[str, Pending] = {}
        for pending in batch:
            first.setdefault(pending.event["id"], pending)
        stage.now = "ledger"
        routes, lessons = await self._routes(first)
        created = {i: int(p.event["created"]) for i, p in first.items()}
        async with self._ledger.claim(created, lessons) as claim:
            fresh = [p for i, p in first.items() if i not in claim.already_published]
            records: list[Record] = []
            for p in fresh:
                route = routes[p.event["id"]]
                records.append((message.encode(p.event, p.raw, p.source, route), route.key))
            stage.now = "broker"
            results = await self._broker.send_many(self._topic, records)
            stage.now = "ledger"
            outcomes: dict[str, Outcome | BaseException] = dict.fromkeys(
                claim.already_published, Outcome.DUPLICATE
            )
            failed: list[str] = []
            for pending, result in zip(fresh, results, strict=True):
                event_id = pending.event["id"]
                if result is None:
                    outcomes[event_id] = Outcome.PUBLISHED
                else:
                    outcomes[event_id] = result
                    failed.append(event_id)
            if failed:
                await claim.undelivered(failed)
        self._settle(batch, outcomes)

    async def _routes(
        self, first: dict[str, Pending]
    ) -> tuple[dict[str, routing.Route], list[Lesson]]:
        """Every event's route, and what each teaches. Order ids learned earlier are looked
        up (one query) only for events that carry none and name an id an order can own."""
        subjects = {i: routing.subject(p.event) for i, p in first.items()}
        wanted = {i for s in subjects.values() if s.carried is None for i in s.learnable}
        learned = await self._ledger.learned_orders(sorted(wanted)) if wanted else {}
        routes: dict[str, routing.Route] = {}
        lessons: list[Lesson] = []
        for event_id, subject in subjects.items():
            route = routes[event_id] = subject.route(learned)
            if route.order_id and subject.learnable:
                lessons.append(Lesson(event_id, route.order_id, subject.learnable))
        return routes, lessons

    def _settle(self, batch: list[Pending], outcomes: dict[str, Outcome | BaseException]) -> None:
        """Answer every request; a repeat of an id within the batch is a DUPLICATE of it."""
        answered: set[str] = set()
        for pending in batch:
            event_id = pending.event["id"]
            outcome = outcomes[event_id]
            if isinstance(outcome, BaseException):
                if not pending.done.done():
                    pending.done.set_exception(BrokerUnavailable(str(outcome)))
                continue
            self._recent.add(event_id)
            repeat = event_id in answered
            answered.add(event_id)
            if not pending.done.done():
                pending.done.set_result(Outcome.DUPLICATE if repeat else outcome)
