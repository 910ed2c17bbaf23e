"""Registry of the topics: names, partition counts, key rule, and the DLQ of each.

Keys are the order id wherever it is known, so that everything about one order lands on one
partition, in order. Every topic has a `<name>.dlq` for messages no retry can fix.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    partitions: int
    key_rule: str
    retention_ms: int = 7 * 24 * 3600 * 1000

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"


STRIPE_EVENTS = Topic(
    "stripe.events",
    partitions=6,
    key_rule="metadata.order_id of the event's object (or its PaymentIntent/charge), "
    "else the Stripe object id",
)
ORDERS_COMMANDS = Topic("orders.commands", partitions=6, key_rule="order id")
ORDERS_EVENTS = Topic("orders.events", partitions=6, key_rule="order id")
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

    def all_names(self) -> list[tuple[str, int]]:
        """Every topic and DLQ with its partition count, for creating them up front."""
        names: list[tuple[str, int]] = []
        for topic in ALL:
            names.append((self.name(topic), topic.partitions))
            names.append((self.dlq(topic), 1))
        return names
