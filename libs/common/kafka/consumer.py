"""A consumer that commits an offset only after its handler has finished with the record.

Processing is at-least-once: a crash between handling and committing replays the record, so
handlers must be idempotent (they are: effects are keyed by Stripe event id, command id or
an idempotency key). What to retry and what to dead-letter is `dead_letters`' rule: only an
infrastructure failure is retried without bound; a record that keeps failing goes to the
topic's DLQ with the reason, and the partition keeps moving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import confluent_kafka

from libs.common.kafka.dead_letters import (
    PermanentError,
    dlq_headers,
    error_type,
    handle_or_dead_letter,
)
from libs.common.kafka.producer import KafkaProducer

log = logging.getLogger(__name__)

Handler = Callable[[confluent_kafka.Message], Awaitable[None]]
__all__ = ["Handler", "KafkaConsumer", "PermanentError"]


class KafkaConsumer:
    """Poll in a worker thread, handle on the event loop, commit what was handled."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        group_id: str,
        topics: list[str],
        client_id: str,
        dlq_producer: KafkaProducer,
        dlq_for: Callable[[str], str],
        batch_size: int = 200,
        max_attempts: int = 3,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id,
            "client.id": client_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        }
        config.update(extra or {})
        self._consumer = confluent_kafka.Consumer(config)
        self._topics = topics
        self._dlq_producer = dlq_producer
        self._dlq_for = dlq_for
        self._batch_size = batch_size
        self._max_attempts = max_attempts
        # librdkafka's consumer is not thread-safe: every call goes through this one thread.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{client_id}-poll")

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def run(self, handler: Handler, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; then commit what was handled and leave the group."""
        await self._call(self._consumer.subscribe, self._topics)
        try:
            while not stop.is_set():
                batch = await self._call(self._consumer.consume, self._batch_size, 0.2)
                handled = []
                for msg in batch:
                    if msg.error():
                        log.warning("consumer error: %s", msg.error())
                        continue
                    await self._handle(msg, handler)
                    handled.append(msg)
                if handled:
                    await self._commit(handled)
        finally:
            await self._call(self._consumer.close)
            self._thread.shutdown(wait=False)

    async def _handle(self, msg: confluent_kafka.Message, handler: Handler) -> None:
        async def dead_letter(exc: BaseException, attempts: int) -> None:
            await self.dead_letter(msg, str(exc), error=error_type(exc), attempts=attempts)

        where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
        await handle_or_dead_letter(
            lambda: handler(msg), dead_letter, max_attempts=self._max_attempts, what=where
        )

    async def dead_letter(
        self, msg: confluent_kafka.Message, reason: str, *, error: str = "", attempts: int = 1
    ) -> None:
        topic = msg.topic() or ""
        log.error("to DLQ: %s (topic=%s offset=%s)", reason, topic, msg.offset())
        headers = dlq_headers(
            topic, msg.partition() or 0, msg.offset() or 0, reason, error=error, attempts=attempts
        )
        await self._dlq_producer.send(
            self._dlq_for(topic), msg.value(), key=msg.key(), headers=headers
        )

    async def _commit(self, handled: list[confluent_kafka.Message]) -> None:
        latest: dict[tuple[str, int], int] = {}
        for msg in handled:
            latest[(msg.topic() or "", msg.partition() or 0)] = msg.offset() or 0
        offsets = [
            confluent_kafka.TopicPartition(topic, partition, offset + 1)
            for (topic, partition), offset in latest.items()
        ]
        await self._call(lambda: self._consumer.commit(offsets=offsets, asynchronous=False))
