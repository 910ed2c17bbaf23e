"""An idempotent producer whose `send` completes when the broker has the record.

`enable.idempotence` with `acks=all` means a retried send never duplicates a record and a
completed send is on every in-sync replica: the promise ingest makes to Stripe rests on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import confluent_kafka

log = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """The broker did not take the record (unreachable, timed out, or refused it)."""


@dataclass(frozen=True, slots=True)
class Delivered:
    topic: str
    partition: int
    offset: int


def _encode_key(key: str | bytes | None) -> bytes | None:
    if key is None or isinstance(key, bytes):
        return key
    return key.encode()


Report = tuple[
    asyncio.Future[Delivered], confluent_kafka.KafkaError | None, confluent_kafka.Message
]
POLL_INTERVAL_S = 0.001  # while records are in flight (libuv's timers count whole ms)


class KafkaProducer:
    """One confluent-kafka producer shared by a process.

    A producer that turns fatal (an idempotent producer whose broker lost its producer state
    answers UNKNOWN_PRODUCER_ID, for one) is replaced by a new one: the records it still held
    fail with `DeliveryError` and the next send goes out on the new producer, instead of the
    process being stuck with a producer that will never deliver again.

    Delivery reports are served by `poll()`. By default a background thread polls and hands
    the reports of each poll to the event loop at once, as soon as the broker answers; with
    `poll_thread=False` the loop itself polls, every millisecond while a send waits, which
    saves the thread where every send is awaited anyway (the orders worker: measured ~15 % of
    its CPU went to a hand-off per record, before reports were handed over a poll at a time)."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        delivery_timeout_ms: int = 30_000,
        linger_ms: float = 2,
        extra: Mapping[str, Any] | None = None,
        poll_thread: bool = True,
    ) -> None:
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            # The Java client's and Faust's partitioner: a key lands on the same partition
            # whoever produces it, so that co-partitioned topics line up per order.
            "partitioner": "murmur2_random",
            "linger.ms": linger_ms,
            "delivery.timeout.ms": delivery_timeout_ms,
            "request.timeout.ms": min(delivery_timeout_ms, 30_000),
            "socket.connection.setup.timeout.ms": min(delivery_timeout_ms, 10_000),
        }
        config.update(extra or {})
        self._config = config
        self._producer = confluent_kafka.Producer(config)
        self._pending: set[asyncio.Future[Delivered]] = set()
        # Reports taken by the poll thread, until it hands them over (appends and pops of a
        # deque are atomic, whichever thread ran the callback).
        self._reports: deque[Report] = deque()
        self._closed = threading.Event()
        self._poller: threading.Thread | None = None
        if poll_thread:
            self._poller = threading.Thread(target=self._poll_forever, name=f"{client_id}-poll")
            self._poller.daemon = True
            self._poller.start()

    def _poll_forever(self) -> None:
        # Delivery reports are only served by poll(); a thread keeps them flowing while the
        # event loop is busy, and hands them back to the loops waiting for them, one wake-up
        # of each loop for all the reports that one poll served.
        while not self._closed.is_set():
            self._poll(0.05)
            self._hand_over()

    def _hand_over(self) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Report]] = {}
        while self._reports:
            report = self._reports.popleft()
            by_loop.setdefault(report[0].get_loop(), []).append(report)
        for loop, reports in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle_all, reports)

    def _poll(self, timeout: float) -> None:
        try:
            self._producer.poll(timeout)
        except confluent_kafka.KafkaException as exc:
            self._replace(exc)

    def _replace(self, exc: confluent_kafka.KafkaException) -> None:
        """Start a new producer after a fatal error; fail what the old one still held."""
        log.warning("kafka producer failed (%s); starting a new one", exc)
        self._producer = confluent_kafka.Producer(self._config)
        failure = DeliveryError(f"producer replaced after: {exc}")
        for future in list(self._pending):
            future.get_loop().call_soon_threadsafe(_fail, future, failure)

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: str | bytes | None = None,
        headers: Mapping[str, str | bytes] | None = None,
    ) -> Delivered:
        """Produce one record and wait for its delivery report."""
        return await self._produce(topic, value, key, headers)

    async def send_all(
        self, topic: str, records: Sequence[tuple[str | bytes | None, bytes]]
    ) -> list[Delivered]:
        """Produce `(key, value)` records in this order, then wait for all their reports:
        one round trip for the lot, and per key the broker keeps the order given. Raises the
        first `DeliveryError` if any record was refused."""
        return [_delivered(outcome) for outcome in await self.send_each(topic, records)]

    async def send_each(
        self, topic: str, records: Sequence[tuple[str | bytes | None, bytes]]
    ) -> list[Delivered | DeliveryError]:
        """`send_all`, with each record's own outcome: a refused record fails alone."""
        futures = [await self._enqueue(topic, value, key, None) for key, value in records]
        return await self._wait(futures)

    async def _produce(
        self,
        topic: str,
        value: bytes | None,
        key: str | bytes | None,
        headers: Mapping[str, str | bytes] | None,
    ) -> Delivered:
        future = await self._enqueue(topic, value, key, headers)
        (outcome,) = await self._wait([future])
        return _delivered(outcome)

    async def _wait(
        self, futures: list[asyncio.Future[Delivered]]
    ) -> list[Delivered | DeliveryError]:
        if self._poller is None:
            while True:
                self._poll(0)
                if all(future.done() for future in futures):
                    break
                await asyncio.sleep(POLL_INTERVAL_S)
        # Futures only ever end with a `Delivered` or a `DeliveryError` (`_settle`, `_fail`).
        return list(await asyncio.gather(*futures, return_exceptions=True))  # type: ignore[arg-type]

    async def _enqueue(
        self,
        topic: str,
        value: bytes | None,
        key: str | bytes | None,
        headers: Mapping[str, str | bytes] | None,
    ) -> asyncio.Future[Delivered]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Delivered] = loop.create_future()
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

        def on_delivery(
            err: confluent_kafka.KafkaError | None, msg: confluent_kafka.Message
        ) -> None:
            if self._poller is None:  # polled on the loop's own thread
                _settle(future, err, msg)
            else:
                self._reports.append((future, err, msg))

        header_list: list[tuple[str, str | bytes | None]] | None = (
            list(headers.items()) if headers else None
        )
        while True:
            try:
                self._producer.produce(
                    topic, value, _encode_key(key), on_delivery=on_delivery, headers=header_list
                )
                return future
            except BufferError:
                # Local queue is full: back-pressure instead of failing the caller.
                self._poll(0)
                await asyncio.sleep(0.01)
            except confluent_kafka.KafkaException as exc:
                self._replace(exc)

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for outstanding records; returns how many are still undelivered."""
        try:
            return int(self._producer.flush(timeout))
        except confluent_kafka.KafkaException as exc:
            self._replace(exc)
            return 0
        finally:
            self._hand_over()  # reports this flush served, in poll-thread mode

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        self._closed.set()
        if self._poller is not None:
            self._poller.join(timeout=2)

    def list_topics(self, timeout: float = 2.0) -> set[str]:
        """Ask the broker for metadata; raises when it cannot be reached in time."""
        metadata = self._producer.list_topics(timeout=timeout)
        return set(metadata.topics)


def _delivered(outcome: Delivered | DeliveryError) -> Delivered:
    if isinstance(outcome, DeliveryError):
        raise outcome
    return outcome


def _fail(future: asyncio.Future[Delivered], failure: DeliveryError) -> None:
    if not future.done():
        future.set_exception(failure)


def _settle_all(reports: list[Report]) -> None:
    for report in reports:
        _settle(*report)


def _settle(
    future: asyncio.Future[Delivered],
    err: confluent_kafka.KafkaError | None,
    msg: confluent_kafka.Message,
) -> None:
    if future.done():
        return
    if err is not None:
        future.set_exception(DeliveryError(str(err)))
        return
    future.set_result(Delivered(msg.topic() or "", msg.partition() or 0, msg.offset() or 0))
