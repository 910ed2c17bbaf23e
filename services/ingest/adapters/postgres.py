"""The dedupe ledger and the learned order ids in PostgreSQL.

A claim is one transaction over a batch of event ids: one upsert takes the row locks (waiting
behind any concurrent claim of the same ids, in this process or another), the publish happens
while the locks are held, and the `published_at` update commits with the learned order ids.
Four round trips per batch (begin, claim, mark, commit), however many events it holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import asyncpg

from libs.common import db
from services.ingest.dedupe import Claim, Delivered, EventLedger

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

# Sorted ids: two claims over overlapping ids take the row locks in the same order.
_CLAIM = (
    "INSERT INTO ingest_events (event_id, created)"
    " SELECT id, created FROM unnest($1::text[], $2::bigint[]) AS t(id, created) ORDER BY id"
    " ON CONFLICT (event_id) DO UPDATE SET attempts = ingest_events.attempts + 1"
    " RETURNING event_id, published_at IS NOT NULL AS published"
)
# One round trip: the learned order ids (none, often) and the published mark together.
_MARK_PUBLISHED = (
    "WITH learned AS ("
    " INSERT INTO ingest_order_keys (stripe_id, order_id, learned_from)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS t(id, o, e) ORDER BY id"
    " ON CONFLICT (stripe_id) DO NOTHING)"
    " UPDATE ingest_events SET published_at = now() WHERE event_id = ANY($4::text[])"
)


class _Connection(asyncpg.Connection):
    """Nothing here changes session state, and a transaction left open is rolled back
    anyway: releasing to the pool need not cost a round trip for `RESET ALL` and co."""

    def get_reset_query(self) -> str:
        return ""


async def open_pool(dsn: str, size: int, *, synchronous_commit: bool = True) -> asyncpg.Pool:
    """`synchronous_commit=False` trades the last fraction of a second of dedupe rows, should
    PostgreSQL itself crash, for throughput: the broker holds the events either way, and a lost
    row can only let a redelivered event through twice (consumers dedupe by event id)."""
    pool = await db.create_pool(
        dsn,
        min_size=min(2, size),
        max_size=size,
        server_settings={"synchronous_commit": "on" if synchronous_commit else "off"},
        connection_class=_Connection,
    )
    await db.migrate(pool, "ingest", MIGRATIONS)
    return pool


class PostgresClaim(Claim):
    def __init__(self, conn: asyncpg.Connection, published: frozenset[str]) -> None:
        self._conn = conn
        self.already_published = published

    async def learned_orders(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        rows = await self._conn.fetch(
            "SELECT stripe_id, order_id FROM ingest_order_keys WHERE stripe_id = ANY($1::text[])",
            list(ids),
        )
        return {row["stripe_id"]: row["order_id"] for row in rows}

    async def mark_published(self, delivered: Sequence[Delivered]) -> None:
        if not delivered:
            return
        learned: dict[str, tuple[str, str]] = {}
        for item in delivered:
            for stripe_id in item.learn if item.order_id else ():
                learned.setdefault(stripe_id, (item.order_id or "", item.event_id))
        ids = sorted(learned)
        await self._conn.execute(
            _MARK_PUBLISHED,
            ids,
            [learned[i][0] for i in ids],
            [learned[i][1] for i in ids],
            [item.event_id for item in delivered],
        )


class PostgresLedger(EventLedger):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def claim(self, events: Mapping[str, int]) -> AsyncIterator[Claim]:
        ids = sorted(events)
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, ids, [events[i] for i in ids])
            yield PostgresClaim(conn, frozenset(r["event_id"] for r in rows if r["published"]))

    async def last_seen_created(self) -> int | None:
        value = await self._pool.fetchval(
            "SELECT max(created) FROM ingest_events WHERE published_at IS NOT NULL"
        )
        return int(value) if value is not None else None
