"""Registry of the topics: names, partition counts, key rule, and the DLQ of each.

Keys are the order id wherever it is known, so that everything about one order lands on one
partition, in order. Every topic has a `<name>.dlq` for messages no retry can fix.
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 3600 * 1000
FOREVER = -1
DLQ_RETENTION_MS = 30 * DAY_MS
"""Long enough for someone to look at a dead letter and replay it after a fix."""


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    partitions: int
    key_rule: str
    retention_ms: int = 7 * DAY_MS

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as it is created: name, partitions and the configs we set explicitly."""

    name: str
    partitions: int
    retention_ms: int
    compacted: bool = False

    def configs(self) -> dict[str, str]:
        if self.compacted:
            return {"cleanup.policy": "compact", "retention.ms": str(FOREVER)}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}


STRIPE_EVENTS = Topic(
    "stripe.events",
    partitions=6,
    key_rule="metadata.order_id of the event's object (or its PaymentIntent/charge), "
    "else the Stripe object id",
    # At least as long as Stripe keeps its own event history, so a replay can start anywhere
    # Stripe could.
    retention_ms=35 * DAY_MS,
)
ORDERS_COMMANDS = Topic("orders.commands", partitions=6, key_rule="order id")
ORDERS_EVENTS = Topic(
    "orders.events",
    partitions=6,
    key_rule="order id",
    # The facts other services rebuild their state from: kept as long as the orders are.
    retention_ms=FOREVER,
)
ORDERS_INBOX = Topic(
    "orders.inbox",
    partitions=6,
    key_rule="order id (facts from the orders API, Stripe events re-keyed to their order)",
)

# Topics an orders worker reads together must share a partition count: a key lands on the
# same partition number in each, which is what lets one worker own all of one order.
ALL: tuple[Topic, ...] = (STRIPE_EVENTS, ORDERS_COMMANDS, ORDERS_EVENTS, ORDERS_INBOX)


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Topic names under a prefix; tests use a fresh prefix each so that they never share data."""

    prefix: str = ""

    def name(self, topic: Topic) -> str:
        return f"{self.prefix}{topic.name}"

    def dlq(self, topic: Topic) -> str:
        return f"{self.prefix}{topic.dlq}"

    def all_names(self) -> list[TopicSpec]:
        """Every topic and DLQ as it is created up front."""
        specs: list[TopicSpec] = []
        for topic in ALL:
            specs.append(TopicSpec(self.name(topic), topic.partitions, topic.retention_ms))
            specs.append(TopicSpec(self.dlq(topic), 1, DLQ_RETENTION_MS))
        return specs

    def table(self, app_id: str, table: str, partitions: int) -> TopicSpec:
        """The changelog of a Faust table (named as Faust names it): compacted, kept."""
        return TopicSpec(f"{app_id}-{table}-changelog", partitions, FOREVER, compacted=True)
