"""Reading a topic from the beginning without a consumer group (no rebalance to wait for)."""

from __future__ import annotations

import asyncio
import time

import confluent_kafka


def _read(
    bootstrap: str, topic: str, expected: int, timeout: float
) -> list[confluent_kafka.Message]:
    consumer = confluent_kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "tests-reader", "enable.auto.commit": False}
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions
        consumer.assign(
            [
                confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                for p in partitions
            ]
        )
        found: list[confluent_kafka.Message] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(found) < expected:
            for msg in consumer.consume(500, 0.2):
                if not msg.error():
                    found.append(msg)
        return found
    finally:
        consumer.close()


async def read_topic(
    bootstrap: str, topic: str, *, expected: int, timeout: float = 20.0, settle: float = 0.0
) -> list[confluent_kafka.Message]:
    """Every record on `topic`, once `expected` have arrived or `timeout` passed; with
    `settle`, keep reading that much longer to catch records that should not be there."""
    found = await asyncio.to_thread(_read, bootstrap, topic, expected, timeout)
    if settle:
        await asyncio.sleep(settle)
        found = await asyncio.to_thread(_read, bootstrap, topic, len(found) + 1, settle)
    return found
