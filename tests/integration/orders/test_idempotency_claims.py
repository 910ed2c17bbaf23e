"""The API's Idempotency-Key claims in PostgreSQL: a duplicate while the first runs is told
so, a claim left by a crashed request is taken over after the timeout (by one retry only),
and a different body with the same key stays a conflict."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.orders.adapters import postgres
from tests.support.backends import Infra

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    found = await postgres.connect(infra.database_url)
    yield found
    await found.close()


async def age(pool: asyncpg.Pool, key: str, seconds: int) -> None:
    await pool.execute(
        "UPDATE orders_idempotency SET created_at = now() - make_interval(secs => $2) "
        "WHERE key = $1",
        key,
        float(seconds),
    )


async def test_a_duplicate_while_the_first_runs_is_in_progress(pool: asyncpg.Pool) -> None:
    key = f"k-{uuid.uuid4().hex}"
    assert await postgres.claim_key(pool, "s", key, "body-a", takeover_s=60) is None

    with pytest.raises(postgres.RequestInProgress):
        await postgres.claim_key(pool, "s", key, "body-a", takeover_s=60)
    with pytest.raises(postgres.IdempotencyConflict):
        await postgres.claim_key(pool, "s", key, "body-b", takeover_s=60)


async def test_a_stale_claim_is_taken_over_by_exactly_one_retry(pool: asyncpg.Pool) -> None:
    key = f"k-{uuid.uuid4().hex}"
    await postgres.claim_key(pool, "s", key, "body-a", takeover_s=60)
    await age(pool, key, 3600)

    outcomes = await asyncio.gather(
        *(postgres.claim_key(pool, "s", key, "body-a", takeover_s=60) for _ in range(5)),
        return_exceptions=True,
    )

    assert outcomes.count(None) == 1
    assert all(isinstance(o, postgres.RequestInProgress) for o in outcomes if o is not None)


async def test_a_stale_claim_with_another_body_is_still_a_conflict(pool: asyncpg.Pool) -> None:
    key = f"k-{uuid.uuid4().hex}"
    await postgres.claim_key(pool, "s", key, "body-a", takeover_s=60)
    await age(pool, key, 3600)

    with pytest.raises(postgres.IdempotencyConflict):
        await postgres.claim_key(pool, "s", key, "body-b", takeover_s=60)


async def test_an_answered_claim_is_replayed_and_never_taken_over(pool: asyncpg.Pool) -> None:
    key = f"k-{uuid.uuid4().hex}"
    await postgres.claim_key(pool, "s", key, "body-a", takeover_s=60)
    await postgres.complete_key(pool, "s", key, 201, {"id": "pi_1"})
    await age(pool, key, 3600)

    replay = await postgres.claim_key(pool, "s", key, "body-a", takeover_s=60)

    assert replay == postgres.Replay(201, {"id": "pi_1"})


async def test_a_released_claim_can_be_made_again(pool: asyncpg.Pool) -> None:
    key = f"k-{uuid.uuid4().hex}"
    await postgres.claim_key(pool, "s", key, "body-a", takeover_s=60)
    await postgres.release_key(pool, "s", key)

    assert await postgres.claim_key(pool, "s", key, "body-a", takeover_s=60) is None
