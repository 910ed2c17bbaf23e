"""Committing a batch whose commit one record breaks: split it until the culprit is alone.

A batch is committed with one statement and one send, so one record the database refuses (a
value it cannot hold, a constraint it breaks) fails the whole batch. Infrastructure failures
are retried as they are; any other failure splits the records in halves, each re-decided from
the stored state and committed on its own, first half first (the store holds only committed
state, so deciding the second half after the first committed is deciding it in order). A
record that still fails alone is retried up to the attempt limit, then dead-lettered. The
happy path costs what it did: one commit per batch.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

from libs.common.kafka.dead_letters import handle_or_dead_letter, retry_infrastructure
from services.orders.handlers import Batch

log = logging.getLogger(__name__)
R = TypeVar("R")


class BatchPort(ABC, Generic[R]):
    """What splitting needs: decide records into a batch, commit it, dead-letter a record."""

    @abstractmethod
    async def decide(self, records: Sequence[R]) -> tuple[Batch, list[R]]:
        """Decide `records` from the stored state; returns the batch and the records in it
        (a record that cannot be decided is dead-lettered there and left out)."""

    @abstractmethod
    async def commit(self, batch: Batch) -> None: ...

    @abstractmethod
    async def dead_letter(self, record: R, exc: BaseException, attempts: int) -> None: ...


async def commit_or_split(
    port: BatchPort[R], records: Sequence[R], batch: Batch, *, max_attempts: int
) -> None:
    """Make `batch` (decided from `records`) durable, dead-lettering what breaks it."""
    if not records:
        return
    if len(records) == 1:
        (record,) = records

        async def dead_letter(exc: BaseException, attempts: int) -> None:
            await port.dead_letter(record, exc, attempts)

        await handle_or_dead_letter(
            lambda: port.commit(batch), dead_letter, max_attempts=max_attempts, what="commit"
        )
        return
    try:
        await retry_infrastructure(lambda: port.commit(batch), what="commit")
        return
    except Exception as exc:
        log.warning("a batch of %d records failed to commit (%r); splitting it", len(records), exc)
    middle = len(records) // 2
    for half in (records[:middle], records[middle:]):
        sub_batch, kept = await port.decide(half)
        await commit_or_split(port, kept, sub_batch, max_attempts=max_attempts)
