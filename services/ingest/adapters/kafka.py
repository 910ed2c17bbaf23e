"""The broker edge: the shared idempotent producer (acks=all) behind ingest's `Broker` port."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from libs.common.kafka.producer import DeliveryError, KafkaProducer
from services.ingest.publisher import Broker, BrokerUnavailable, Record


class KafkaBroker(Broker):
    """Records expire inside the producer shortly before the publish deadline, so that a
    record we answered 503 for does not reach the broker later behind our back."""

    def __init__(
        self, bootstrap_servers: str, *, delivery_timeout_s: float, linger_ms: float = 0.0
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._timeout_ms = max(int(delivery_timeout_s * 1000), 1000)
        self._linger_ms = linger_ms
        self._producer = self._new_producer()

    def _new_producer(self) -> KafkaProducer:
        return KafkaProducer(
            self._bootstrap,
            client_id="ingest",
            delivery_timeout_ms=self._timeout_ms,
            linger_ms=self._linger_ms,
            extra={"log_level": 3},
        )

    async def send_many(self, topic: str, records: Sequence[Record]) -> list[Exception | None]:
        # A producer that turns fatal (say the broker lost its state) replaces itself.
        outcomes = await self._producer.send_each(topic, [(key, value) for value, key in records])
        return [
            BrokerUnavailable(f"the broker did not take the event: {outcome}")
            if isinstance(outcome, DeliveryError)
            else None
            for outcome in outcomes
        ]

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        try:
            await asyncio.to_thread(self._producer.list_topics, timeout_s)
        except Exception:
            return False
        return True

    def close(self) -> None:
        self._producer.close(timeout=5)
