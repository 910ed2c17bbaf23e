"""The dedupe ledger and the learned order ids in PostgreSQL.

A claim is one transaction over a batch of event ids: one statement takes the row locks
(waiting behind any concurrent claim of the same ids, in this process or another), marks the
fresh ids published and writes what they teach; the publish happens while the locks are held,
and the commit makes it all visible at once. Three round trips per batch (begin, claim,
commit), however many events it holds; one or two more when the broker refused some of them,
and one before the claim when an event carries no order id but names an id an order can own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import asyncpg

from libs.common import db
from services.ingest.dedupe import Claim, EventLedger, Lesson
from services.ingest.publisher import LedgerUnavailable

MIGRATIONS = [
    "CREATE TABLE IF NOT EXISTS ingest_events ("
    " event_id text PRIMARY KEY,"
    " created bigint NOT NULL,"
    " attempts int NOT NULL DEFAULT 1,"
    " first_seen_at timestamptz NOT NULL DEFAULT now(),"
    " published_at timestamptz)",
    "CREATE INDEX IF NOT EXISTS ingest_events_created ON ingest_events (created)"
    " WHERE published_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS ingest_order_keys ("
    " stripe_id text PRIMARY KEY,"
    " order_id text NOT NULL,"
    " learned_from text NOT NULL,"
    " learned_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS ingest_webhook_endpoints ("
    " api_base text NOT NULL, url text NOT NULL, kind text NOT NULL,"
    " endpoint_id text NOT NULL, secret text NOT NULL,"
    " PRIMARY KEY (api_base, url, kind))",
]

# Sorted ids: two claims over overlapping ids take the row locks in the same order. Fresh ids
# are marked published at once (nobody sees the mark before the commit, and `undelivered` takes
# it back); an id published earlier is locked, left alone and not returned. Lessons are written
# for fresh events only, the first in batch order per id, and only once every event row is held
# (ARRAY(...) is evaluated whole before the first key is inserted): key locks always come after
# event locks, in id order, so two claims cannot deadlock.
_CLAIM = (
    "WITH claimed AS ("
    " INSERT INTO ingest_events AS e (event_id, created, published_at)"
    " SELECT id, created, now() FROM unnest($1::text[], $2::bigint[]) AS t(id, created)"
    " ORDER BY id"
    " ON CONFLICT (event_id) DO UPDATE SET attempts = e.attempts + 1, published_at = now()"
    " WHERE e.published_at IS NULL"
    " RETURNING event_id),"
    " learned AS ("
    " INSERT INTO ingest_order_keys (stripe_id, order_id, learned_from)"
    " SELECT DISTINCT ON (id) id, o, e"
    " FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t(id, o, e, n)"
    " WHERE e = ANY(ARRAY(SELECT event_id FROM claimed)) ORDER BY id, n"
    " ON CONFLICT (stripe_id) DO NOTHING)"
    " SELECT event_id FROM claimed"
)
# Only rows this claim wrote: the ids are ours (locked), the keys were learned from them.
_UNDELIVERED = (
    "WITH unlearned AS ("
    " DELETE FROM ingest_order_keys"
    " WHERE stripe_id = ANY($2::text[]) AND learned_from = ANY($1::text[]))"
    " UPDATE ingest_events SET published_at = NULL WHERE event_id = ANY($1::text[])"
)
_LEARN = (
    "INSERT INTO ingest_order_keys (stripe_id, order_id, learned_from)"
    " SELECT DISTINCT ON (id) id, o, e"
    " FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(id, o, e, n)"
    " ORDER BY id, n ON CONFLICT (stripe_id) DO NOTHING"
)
_LEARNED = "SELECT stripe_id, order_id FROM ingest_order_keys WHERE stripe_id = ANY($1::text[])"


def _columns(lessons: Sequence[Lesson]) -> tuple[list[str], list[str], list[str]]:
    """Lessons as the (stripe id, order id, event id) arrays the statements take."""
    ids: list[str] = []
    orders: list[str] = []
    events: list[str] = []
    for lesson in lessons:
        for stripe_id in lesson.ids:
            ids.append(stripe_id)
            orders.append(lesson.order_id)
            events.append(lesson.event_id)
    return ids, orders, events


class _Connection(asyncpg.Connection):
    """Nothing here changes session state, and a transaction left open is rolled back
    anyway: releasing to the pool need not cost a round trip for `RESET ALL` and co."""

    def get_reset_query(self) -> str:
        return ""


async def open_pool(dsn: str, size: int, *, synchronous_commit: bool = False) -> asyncpg.Pool:
    """`synchronous_commit=False` (ingest's default) lets a claim's commit return before its WAL
    is on disk. Should PostgreSQL itself crash, the last fraction of a second of claims is lost,
    each transaction whole: the broker holds those events either way, and a later delivery of
    one (Stripe's, or the start-up backfill's) publishes it once more. That is the same kind of
    duplicate an ingest crash between the delivery report and the commit makes with durable
    commits, and consumers dedupe by event id for both. Waiting for the flush put every slow
    flush of the disk in front of every webhook behind it."""
    pool = await db.create_pool(
        dsn,
        min_size=min(2, size),
        max_size=size,
        server_settings={"synchronous_commit": "on" if synchronous_commit else "off"},
        connection_class=_Connection,
    )
    await db.migrate(pool, "ingest", MIGRATIONS)
    return pool


CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
)
"""PostgreSQL itself unreachable or going away: an outage, not a bug."""


class PostgresClaim(Claim):
    def __init__(
        self, conn: asyncpg.Connection, published: frozenset[str], lessons: Sequence[Lesson]
    ) -> None:
        self._conn = conn
        self.already_published = published
        self._lessons = lessons

    async def undelivered(self, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        failed = set(event_ids)
        unlearned = {i for lesson in self._lessons if lesson.event_id in failed for i in lesson.ids}
        await self._conn.execute(_UNDELIVERED, list(failed), list(unlearned))
        # A delivered event of the batch may teach an id the failed one was chosen to teach.
        relearn: list[Lesson] = []
        for lesson in self._lessons:
            if lesson.event_id in failed or lesson.event_id in self.already_published:
                continue
            ids = tuple(i for i in lesson.ids if i in unlearned)
            if ids:
                relearn.append(Lesson(lesson.event_id, lesson.order_id, ids))
        if relearn:
            await self._conn.execute(_LEARN, *_columns(relearn))


class PostgresLedger(EventLedger):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def learned_orders(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        try:
            rows = await self._pool.fetch(_LEARNED, list(ids))
        except CONNECTION_ERRORS as exc:
            raise LedgerUnavailable(f"PostgreSQL did not answer: {exc}") from exc
        return {row["stripe_id"]: row["order_id"] for row in rows}

    @asynccontextmanager
    async def claim(
        self, events: Mapping[str, int], lessons: Sequence[Lesson]
    ) -> AsyncIterator[Claim]:
        ids = sorted(events)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(_CLAIM, ids, [events[i] for i in ids], *_columns(lessons))
                fresh = {row[0] for row in rows}
                published = frozenset(i for i in ids if i not in fresh)
                yield PostgresClaim(conn, published, lessons)
        except CONNECTION_ERRORS as exc:
            raise LedgerUnavailable(f"PostgreSQL did not answer: {exc}") from exc

    async def last_seen_created(self) -> int | None:
        value = await self._pool.fetchval(
            "SELECT max(created) FROM ingest_events WHERE published_at IS NOT NULL"
        )
        return int(value) if value is not None else None
