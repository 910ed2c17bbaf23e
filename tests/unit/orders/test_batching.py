"""Splitting a batch one record breaks: the culprit alone is dead-lettered, the rest commit,
in input order, and the happy path is one commit."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.orders.batching import BatchPort, commit_or_split
from services.orders.handlers import Batch

POISON = "poison"


class FakeInputs(BatchPort[str]):
    """Records are strings; a batch holding POISON is refused as PostgreSQL would refuse it."""

    def __init__(self, refuse: type[Exception] = asyncpg.DataError) -> None:
        self.committed: list[str] = []
        self.dead: list[tuple[str, str, int]] = []
        self.commits = 0
        self._refuse = refuse

    async def decide(self, records: Sequence[str]) -> tuple[Batch, list[str]]:
        batch = Batch()
        batch.records = [(r, r.encode()) for r in records]
        return batch, list(records)

    async def commit(self, batch: Batch) -> None:
        self.commits += 1
        values = [key for key, _ in batch.records]
        if POISON in values:
            raise self._refuse("value refused")
        self.committed.extend(values)

    async def dead_letter(self, record: str, exc: BaseException, attempts: int) -> None:
        self.dead.append((record, type(exc).__name__, attempts))


async def _run(port: FakeInputs, records: list[str], max_attempts: int = 3) -> None:
    batch, kept = await port.decide(records)
    await commit_or_split(port, kept, batch, max_attempts=max_attempts)


async def test_a_good_batch_is_one_commit() -> None:
    port = FakeInputs()
    await _run(port, ["a", "b", "c"])
    assert port.committed == ["a", "b", "c"]
    assert port.commits == 1 and port.dead == []


async def test_the_culprit_is_dead_lettered_and_the_rest_committed_in_order() -> None:
    port = FakeInputs()
    records = ["a", "b", "c", POISON, "d", "e", "f"]
    await _run(port, records, max_attempts=2)
    assert port.committed == ["a", "b", "c", "d", "e", "f"]
    assert port.dead == [(POISON, "DataError", 2)]


async def test_a_batch_of_one_poison_record_is_retried_then_dead_lettered() -> None:
    port = FakeInputs(refuse=RuntimeError)
    await _run(port, [POISON], max_attempts=3)
    assert port.dead == [(POISON, "RuntimeError", 3)]
    assert port.commits == 3
