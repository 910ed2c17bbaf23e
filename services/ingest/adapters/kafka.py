"""The broker edge: the shared idempotent producer (acks=all) behind ingest's `Broker` port."""

from __future__ import annotations

import asyncio
import logging

from libs.common.kafka.producer import DeliveryError, KafkaProducer
from services.ingest.publisher import Broker, BrokerUnavailable

log = logging.getLogger(__name__)


class KafkaBroker(Broker):
    """Records expire inside the producer shortly before the publish deadline, so that a
    record we answered 503 for does not reach the broker later behind our back."""

    def __init__(self, bootstrap_servers: str, *, delivery_timeout_s: float) -> None:
        self._bootstrap = bootstrap_servers
        self._timeout_ms = max(int(delivery_timeout_s * 1000), 1000)
        self._producer = self._new_producer()

    def _new_producer(self) -> KafkaProducer:
        return KafkaProducer(
            self._bootstrap,
            client_id="ingest",
            delivery_timeout_ms=self._timeout_ms,
            linger_ms=0,  # batches form by themselves under load; idle, no wait
            extra={"log_level": 3},
        )

    async def send(self, topic: str, value: bytes, key: str) -> None:
        try:
            await self._producer.send(topic, value, key=key)
        except DeliveryError as exc:
            if "fatal" in str(exc).lower():
                # An idempotent producer can turn fatal after the broker lost its state
                # (Tansu restarts empty); a new one starts a fresh producer id.
                log.warning("kafka producer failed fatally; starting a new one: %s", exc)
                old, self._producer = self._producer, self._new_producer()
                await asyncio.to_thread(old.close, 0)
            raise BrokerUnavailable(f"the broker did not take the event: {exc}") from exc

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        try:
            await asyncio.to_thread(self._producer.list_topics, timeout_s)
        except Exception:
            return False
        return True

    def close(self) -> None:
        self._producer.close(timeout=5)
