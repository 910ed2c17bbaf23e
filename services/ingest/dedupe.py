"""Deduplication by Stripe event id: the ports, and the in-memory fast path in front of them.

The durable record is a row per event id (adapters/postgres.py). A publisher *claims* the rows
inside a transaction, which marks the fresh ones published and records what they teach (the
transaction's own writes, invisible to anyone until it commits), publishes while holding them,
takes the mark back for any the broker refused, and commits; a concurrent duplicate — in this
process or another ingest process — waits on the row lock and then sees it published. If the
publish fails, the transaction rolls back and the next delivery (Stripe's retry, backfill)
publishes it. Only committed ids enter the memory cache, so the fast path never claims more
than the database knows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Lesson:
    """What one event teaches: these ids belong to this order (see routing.py)."""

    event_id: str
    order_id: str
    ids: tuple[str, ...]


class Claim(ABC):
    """Event ids held by one publisher until the claim's context ends.

    Claims are taken a batch at a time: concurrent webhooks share one transaction, which is
    what lets one process publish thousands of events a second with a row lock per event.
    The ids not `already_published` count as published, and their lessons as learned, when
    the context ends without an error, except those passed to `undelivered`.
    """

    already_published: frozenset[str]

    @abstractmethod
    async def undelivered(self, event_ids: Sequence[str]) -> None:
        """The broker did not take these: they stay unpublished and teach nothing."""


class EventLedger(ABC):
    """Seen event ids and learned order ids; must hold across restarts and processes."""

    @abstractmethod
    async def learned_orders(self, ids: Sequence[str]) -> dict[str, str]:
        """Order ids learned earlier for any of `ids` (see routing.py for the rule)."""

    @abstractmethod
    def claim(
        self, events: Mapping[str, int], lessons: Sequence[Lesson]
    ) -> AbstractAsyncContextManager[Claim]:
        """Hold every event id (mapped to its `created`) exclusively, waiting for other
        holders; leaving the context with an error releases them all unpublished. `lessons`
        are learned for the events that turn out not to be published yet."""

    @abstractmethod
    async def last_seen_created(self) -> int | None:
        """`created` of the newest published event: where an automatic backfill resumes."""


class RecentIds:
    """A bounded set of event ids known to be published, oldest evicted first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = max(capacity, 0)
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        if self._capacity == 0:
            return
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
