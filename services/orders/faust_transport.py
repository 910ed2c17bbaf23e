"""Everything of Faust's beyond its documented app API, in one place: a Faust app whose consumer
asks the broker to answer fetches sooner, which finishes its own set-up before it consumes,
whose table writes may fill a whole batch before they throttle, and which says what it owns
and how far its partitions go, and writes a table entry to a partition it names.

Faust hard-codes `fetch_max_wait_ms=1500` for aiokafka. A broker that holds a fetch until that
deadline even when data has arrived (Tansu does) then adds up to 1.5 s to every hop from a
webhook to the timeline. With 100 ms the hop costs at most that, at the price of a few more
fetch requests while idle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.transports import ProducerT, TransportT

FETCH_MAX_WAIT_MS = 100


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this when the consumer starts, which is after Faust creates it.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class App(faust.App):
    """`faust.App` with the quicker fetch and `before_consuming`; the rest is Faust's own."""

    def __init__(self, *args: Any, table_writes_buffered: int = 100, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._before_consuming: list[Callable[[], Awaitable[None]]] = []
        self._table_writes_buffered = table_writes_buffered

    def before_consuming(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run `step` when the worker starts, before its consumer joins the group and before
        any agent or timer runs: connections made here are ready for the first record, and
        no set-up runs in the event loop while a rebalance or table recovery is under way."""
        self._before_consuming.append(step)

    async def on_first_start(self) -> None:
        # mode starts a service's children (consumer, agents, tables) only after this.
        await super().on_first_start()
        for step in self._before_consuming:
            await step()

    def _new_producer(self) -> ProducerT:
        # Faust holds every record until its changelog writes are back under this many (100
        # by default), logging a warning each time: an agent that writes a batch of table
        # entries at once would otherwise be throttled, one record at a time, on every batch.
        producer = super()._new_producer()
        producer.buffer.max_messages = self._table_writes_buffered
        return producer

    def _new_transport(self) -> TransportT:
        return _Transport(self.conf.broker_consumer, self)

    def assigned(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this worker owns now."""
        return {(tp.topic, tp.partition) for tp in self.assignor.assigned_actives()}

    async def end_offsets(self, tps: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The broker's high watermark of each of `tps`."""
        found = await self.consumer.highwaters(*(TP(topic, partition) for topic, partition in tps))
        return {(tp.topic, tp.partition): int(offset) for tp, offset in found.items()}


def write_table(table: Any, partition: int, key: bytes, value: bytes) -> None:
    """What `table[key] = value` does, with the partition given: a batch is written after its
    records were consumed, when Faust no longer knows a current event to take it from."""
    table.send_changelog(partition, key, value)
    table.data[key] = value
