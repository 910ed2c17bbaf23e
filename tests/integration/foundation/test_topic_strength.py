"""Topics as they are created, and the start-up check that none is weaker than asked."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from libs.common.kafka.admin import Durability, TopicTooWeak, ensure_topics
from libs.common.topics import DAY_MS, TopicNames
from tests.support.backends import Infra

pytestmark = pytest.mark.integration


def _configs(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ResourceType.TOPIC, topic)
    found = admin.describe_configs([resource])[resource].result(timeout=10)
    return {name: entry.value for name, entry in found.items()}


def test_topics_get_retention_durability_and_compaction(infra: Infra, topics: TopicNames) -> None:
    # the `topics` fixture created them with the defaults: auto durability on one broker
    applied = ensure_topics(infra.kafka_bootstrap, topics.all_names())
    assert applied == Durability(1, 1)
    events = _configs(infra.kafka_bootstrap, f"{topics.prefix}stripe.events")
    assert int(events["retention.ms"]) >= 30 * DAY_MS
    assert events["cleanup.policy"] == "delete"
    changelog = topics.table(f"{topics.prefix}orders", "orders", 6)
    ensure_topics(infra.kafka_bootstrap, [changelog])
    assert _configs(infra.kafka_bootstrap, changelog.name)["cleanup.policy"] == "compact"


def test_an_existing_topic_weaker_than_asked_stops_the_service(
    infra: Infra, topics: TopicNames
) -> None:
    with pytest.raises(TopicTooWeak, match="KAFKA_REPLICATION_FACTOR") as weak:
        ensure_topics(infra.kafka_bootstrap, topics.all_names(), durability=Durability(3, 2))
    assert topics.prefix in str(weak.value)
    with pytest.raises(TopicTooWeak, match="KAFKA_MIN_INSYNC_REPLICAS"):
        ensure_topics(infra.kafka_bootstrap, topics.all_names(), durability=Durability(1, 2))


def test_auto_durability_follows_the_cluster() -> None:
    assert Durability().resolve(brokers=1) == Durability(1, 1)
    assert Durability().resolve(brokers=5) == Durability(3, 2)
    assert Durability(2, 0).resolve(brokers=5) == Durability(2, 2)
    assert Durability(3, 1).resolve(brokers=1) == Durability(3, 1)
