"""The PostgreSQL ledger: one statement claims, marks and learns; the commit makes it true."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.ingest.adapters.postgres import PostgresLedger, open_pool
from services.ingest.dedupe import Lesson
from tests.support.backends import Infra

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    made = await open_pool(infra.database_url, 4)
    yield made
    await made.close()


@pytest.fixture
def ids() -> str:
    """A prefix of this test's own, so that tests sharing the database never meet."""
    return uuid.uuid4().hex[:10]


async def published(ledger: PostgresLedger, *event_ids: str) -> frozenset[str]:
    """Which of `event_ids` are published, by claiming them and rolling back."""
    try:
        async with ledger.claim(dict.fromkeys(event_ids, 1), []) as claim:
            raise _Seen(claim.already_published)
    except _Seen as seen:
        return seen.ids
    raise AssertionError("unreachable")


class _Seen(Exception):
    def __init__(self, ids: frozenset[str]) -> None:
        self.ids = ids


async def test_fresh_ids_are_published_and_teach_once_the_claim_commits(
    pool: asyncpg.Pool, ids: str
) -> None:
    ledger = PostgresLedger(pool)
    one, two = f"evt_{ids}_1", f"evt_{ids}_2"
    lesson = Lesson(two, "ord_2", (f"pi_{ids}",))

    async with ledger.claim({one: 1}, []) as first:
        assert first.already_published == frozenset()
    async with ledger.claim({one: 1, two: 2}, [Lesson(one, "ord_x", (f"pi_{ids}",)), lesson]) as c:
        # the one published before is held but teaches nothing again
        assert c.already_published == {one}

    assert await published(ledger, one, two) == {one, two}
    assert await ledger.learned_orders([f"pi_{ids}", f"ch_{ids}"]) == {f"pi_{ids}": "ord_2"}


async def test_an_error_inside_the_claim_leaves_nothing_behind(
    pool: asyncpg.Pool, ids: str
) -> None:
    ledger = PostgresLedger(pool)
    event_id = f"evt_{ids}"

    with pytest.raises(RuntimeError):
        async with ledger.claim({event_id: 1}, [Lesson(event_id, "ord", (f"pi_{ids}",))]):
            raise RuntimeError("the broker went away")

    assert await published(ledger, event_id) == frozenset()
    assert await ledger.learned_orders([f"pi_{ids}"]) == {}


async def test_undelivered_events_stay_unpublished_and_unlearned(
    pool: asyncpg.Pool, ids: str
) -> None:
    ledger = PostgresLedger(pool)
    lost, landed = f"evt_{ids}_lost", f"evt_{ids}_landed"
    shared, own = f"pi_{ids}", f"ch_{ids}"
    # the lost event comes first, so the shared id is written from it by the claim
    lessons = [Lesson(lost, "ord_1", (shared, own)), Lesson(landed, "ord_1", (shared,))]

    async with ledger.claim({lost: 1, landed: 1}, lessons) as claim:
        await claim.undelivered([lost])

    assert await published(ledger, lost, landed) == {landed}
    # what only the lost event taught is gone; what the landed one teaches too is kept
    assert await ledger.learned_orders([shared, own]) == {shared: "ord_1"}
    # and the next delivery of the lost event publishes it
    async with ledger.claim({lost: 1}, []) as again:
        assert again.already_published == frozenset()


async def test_a_concurrent_claim_waits_and_then_sees_the_event_published(
    pool: asyncpg.Pool, ids: str
) -> None:
    ledger = PostgresLedger(pool)
    event_id = f"evt_{ids}"
    holding, release = asyncio.Event(), asyncio.Event()

    async def first() -> frozenset[str]:
        async with ledger.claim({event_id: 1}, []) as claim:
            holding.set()
            await release.wait()
            return claim.already_published

    async def second() -> frozenset[str]:
        await holding.wait()
        async with ledger.claim({event_id: 1}, []) as claim:
            return claim.already_published

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await holding.wait()
    await asyncio.sleep(0.2)
    assert not tasks[1].done()  # waiting on the row lock
    release.set()

    assert await asyncio.gather(*tasks) == [frozenset(), {event_id}]
