"""Kafka helpers on confluent-kafka: an awaitable idempotent producer, a commit-after-handle
consumer, topic creation, and dead-letter publishing."""
