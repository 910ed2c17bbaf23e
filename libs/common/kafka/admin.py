"""Topic creation and the strength check: every topic and its DLQ exist before any service
produces to them, and none is weaker than the settings ask.

Replication factor and `min.insync.replicas` come from settings. Their default ("auto", 0)
follows the cluster: 3 replicas and 2 in sync where there are at least three brokers, 1 and
1 on a single broker (the embedded Tansu). A topic that already exists with fewer replicas
or a lower `min.insync.replicas` than asked stops the service at start-up, naming the topic
and the setting: running on it would quietly promise a durability the broker does not give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import confluent_kafka
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from libs.common.settings import CommonSettings
from libs.common.topics import TopicSpec

CLUSTER_REPLICATION = 3
CLUSTER_MIN_INSYNC = 2


class TopicTooWeak(RuntimeError):
    """An existing topic is less durable than the settings ask."""


@dataclass(frozen=True, slots=True)
class Durability:
    """Asked for by settings; 0 means "auto" (see the module's docstring)."""

    replication_factor: int = 0
    min_insync_replicas: int = 0

    @classmethod
    def of(cls, settings: CommonSettings) -> Durability:
        return cls(settings.kafka_replication_factor, settings.kafka_min_insync_replicas)

    def resolve(self, brokers: int) -> Durability:
        replication = self.replication_factor or min(CLUSTER_REPLICATION, max(brokers, 1))
        insync = self.min_insync_replicas or min(CLUSTER_MIN_INSYNC, replication)
        return Durability(replication, insync)


def ensure_topics(
    bootstrap_servers: str,
    topics: Sequence[TopicSpec],
    timeout: float = 15.0,
    durability: Durability | None = None,
) -> Durability:
    """Create the missing topics, check the existing ones; returns the durability applied."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    metadata = admin.list_topics(timeout=timeout)
    wanted = (durability or Durability()).resolve(len(metadata.brokers))
    existing = {spec for spec in topics if spec.name in metadata.topics}
    _check(admin, metadata, existing, wanted, timeout)
    missing = [spec for spec in topics if spec not in existing]
    _create(admin, missing, wanted, timeout)
    return wanted


def _create(
    admin: AdminClient, specs: Sequence[TopicSpec], wanted: Durability, timeout: float
) -> None:
    if not specs:
        return
    new = [
        NewTopic(
            spec.name,
            num_partitions=spec.partitions,
            replication_factor=wanted.replication_factor,
            config={**spec.configs(), "min.insync.replicas": str(wanted.min_insync_replicas)},
        )
        for spec in specs
    ]
    for name, future in admin.create_topics(new, request_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
        except confluent_kafka.KafkaException as exc:
            error = exc.args[0]
            if error.code() != confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"could not create topic {name}: {error}") from exc


def _check(
    admin: AdminClient,
    metadata: confluent_kafka.admin.ClusterMetadata,
    specs: set[TopicSpec],
    wanted: Durability,
    timeout: float,
) -> None:
    for spec in sorted(specs, key=lambda s: s.name):
        partitions = metadata.topics[spec.name].partitions.values()
        replicas = min((len(p.replicas) for p in partitions), default=0)
        if replicas < wanted.replication_factor:
            raise TopicTooWeak(
                f"topic {spec.name} has {replicas} replica(s), fewer than the "
                f"{wanted.replication_factor} KAFKA_REPLICATION_FACTOR asks for"
            )
    if not specs:
        return
    resources = [ConfigResource(ResourceType.TOPIC, spec.name) for spec in specs]
    for resource, future in admin.describe_configs(resources, request_timeout=timeout).items():
        entry = future.result(timeout=timeout).get("min.insync.replicas")
        insync = int(entry.value) if entry is not None and entry.value else 1
        if insync < wanted.min_insync_replicas:
            raise TopicTooWeak(
                f"topic {resource.name} has min.insync.replicas={insync}, lower than the "
                f"{wanted.min_insync_replicas} KAFKA_MIN_INSYNC_REPLICAS asks for"
            )
