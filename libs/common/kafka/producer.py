"""An idempotent producer whose `send` completes when the broker has the record.

`enable.idempotence` with `acks=all` means a retried send never duplicates a record and a
completed send is on every in-sync replica: the promise ingest makes to Stripe rests on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
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


POLL_INTERVAL_S = 0.001  # while records are in flight (libuv's timers count whole ms)
Outcome = Delivered | DeliveryError
# key, value, headers
_Record = tuple[str | bytes | None, bytes | None, Mapping[str, str | bytes] | None]


class _Sending:
    """The records of one send, each outcome in its place, and one future the sender awaits,
    settled once the broker has answered for every record. Reports may arrive on the poll
    thread or on the loop's, so the count is kept under a lock."""

    __slots__ = ("_left", "_lock", "_threadsafe", "done", "outcomes")

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int, *, threadsafe: bool) -> None:
        self.outcomes: list[Outcome | None] = [None] * count
        self.done: asyncio.Future[list[Outcome]] = loop.create_future()
        self._left = count
        self._lock = threading.Lock()
        self._threadsafe = threadsafe
        if count == 0:
            self.done.set_result([])

    @property
    def finished(self) -> bool:
        return self._left == 0

    def report(self, index: int, err: confluent_kafka.KafkaError | None, msg: Any) -> None:
        outcome: Outcome
        if err is not None:
            outcome = DeliveryError(str(err))
        else:
            outcome = Delivered(msg.topic() or "", msg.partition() or 0, msg.offset() or 0)
        self._record(index, outcome)

    def fail_unanswered(self, failure: DeliveryError) -> None:
        """Every record that has no outcome yet gets `failure`."""
        for index in range(len(self.outcomes)):
            self._record(index, failure)

    def _record(self, index: int, outcome: Outcome) -> None:
        with self._lock:
            if self.outcomes[index] is not None:
                return
            self.outcomes[index] = outcome
            self._left -= 1
            if self._left:
                return
        if self._threadsafe:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self.done.get_loop().call_soon_threadsafe(self._finish)
        else:
            self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result([outcome for outcome in self.outcomes if outcome is not None])


class KafkaProducer:
    """One confluent-kafka producer shared by a process.

    A producer that turns fatal (an idempotent producer whose broker lost its producer state
    answers UNKNOWN_PRODUCER_ID, for one) is replaced by a new one: the records it still held
    fail with `DeliveryError` and the next send goes out on the new producer, instead of the
    process being stuck with a producer that will never deliver again.

    Delivery reports are served by `poll()`. By default a background thread polls: it puts
    each report in its place, and wakes the event loop once per send, when the broker has
    answered for all of that send's records. With `poll_thread=False` the loop itself polls,
    every millisecond while a send waits, which saves the thread where every send is awaited
    anyway (the orders worker: measured ~15 % of its CPU went to a hand-off per record, before
    reports were handed over a send at a time)."""

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
        self._pending: set[_Sending] = set()
        self._closed = threading.Event()
        self._poller: threading.Thread | None = None
        if poll_thread:
            self._poller = threading.Thread(target=self._poll_forever, name=f"{client_id}-poll")
            self._poller.daemon = True
            self._poller.start()

    def _poll_forever(self) -> None:
        # Delivery reports are only served by poll(); a thread keeps them flowing while the
        # event loop is busy.
        while not self._closed.is_set():
            self._poll(0.05)

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
        for sending in list(self._pending):
            sending.fail_unanswered(failure)

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
        return await self._send(topic, [(key, value, None) for key, value in records])

    async def _produce(
        self,
        topic: str,
        value: bytes | None,
        key: str | bytes | None,
        headers: Mapping[str, str | bytes] | None,
    ) -> Delivered:
        (outcome,) = await self._send(topic, [(key, value, headers)])
        return _delivered(outcome)

    async def _send(self, topic: str, records: Sequence[_Record]) -> list[Outcome]:
        sending = _Sending(
            asyncio.get_running_loop(), len(records), threadsafe=self._poller is not None
        )
        self._pending.add(sending)
        try:
            for index, (key, value, headers) in enumerate(records):
                if not await self._enqueue(sending, index, topic, value, key, headers):
                    break
            if self._poller is None:
                while not sending.finished:
                    self._poll(0)
                    if sending.finished:
                        break
                    await asyncio.sleep(POLL_INTERVAL_S)
            return await sending.done
        finally:
            self._pending.discard(sending)

    async def _enqueue(
        self,
        sending: _Sending,
        index: int,
        topic: str,
        value: bytes | None,
        key: str | bytes | None,
        headers: Mapping[str, str | bytes] | None,
    ) -> bool:
        """Hand one record to the producer; False when the producer failed instead, and with
        it this record and those after it."""
        header_list: list[tuple[str, str | bytes | None]] | None = (
            list(headers.items()) if headers else None
        )
        on_delivery = functools.partial(sending.report, index)
        while True:
            try:
                self._producer.produce(
                    topic, value, _encode_key(key), on_delivery=on_delivery, headers=header_list
                )
                return True
            except BufferError:
                # Local queue is full: back-pressure instead of failing the caller.
                if self._poller is None:
                    self._poll(0)
                await asyncio.sleep(0.01)
            except confluent_kafka.KafkaException as exc:
                # This record and the rest of the send fail with what the old producer held
                # (it is pending): sent on the new producer, they could overtake those.
                self._replace(exc)
                return False

    def flush(self, timeout: float = 10.0) -> int:
        """Wait for outstanding records; returns how many are still undelivered."""
        try:
            return int(self._producer.flush(timeout))
        except confluent_kafka.KafkaException as exc:
            self._replace(exc)
            return 0

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
