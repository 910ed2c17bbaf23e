"""PostgreSQL: the read model the HTTP API serves, buyers' Stripe customers, the map from
Stripe objects to orders, and the idempotency keys of the API's POST requests.

The Faust table (changelog-backed) is the source of truth of each order; the read model here
is a projection of it, written after each change with a version so that a replayed or late
write never overwrites a newer one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from libs.common import db

SCHEMA = [
    """CREATE TABLE orders_view (
        order_id text PRIMARY KEY,
        version bigint NOT NULL,
        status text NOT NULL,
        body jsonb NOT NULL,
        timeline jsonb NOT NULL,
        snapshot bytea NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE orders_buyers (
        buyer_id text PRIMARY KEY,
        email text NOT NULL,
        stripe_customer_id text,
        created_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE orders_payment_objects (
        object_id text PRIMARY KEY,
        order_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE orders_idempotency (
        scope text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        status_code int,
        body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key))""",
]


async def connect(dsn: str) -> asyncpg.Pool:
    pool = await db.create_pool(dsn)
    await db.migrate(pool, "orders", SCHEMA)
    return pool


@dataclass(frozen=True)
class OrderView:
    body: dict[str, Any]
    timeline: list[Any]
    snapshot: bytes


@dataclass(frozen=True)
class ViewRow:
    """One order's read-model row; `body` and `timeline` are JSON text."""

    order_id: str
    version: int
    status: str
    body: str
    timeline: str
    snapshot: bytes


async def save_views(pool: asyncpg.Pool, rows: list[ViewRow]) -> None:
    """Upsert the rows in one statement (one order at most once); a row older than the one
    stored (a replay, a late write) leaves the stored one alone."""
    if not rows:
        return
    await pool.execute(
        """INSERT INTO orders_view (order_id, version, status, body, timeline, snapshot)
           SELECT o, v, s, b::jsonb, t::jsonb, n
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                       $6::bytea[]) AS u(o, v, s, b, t, n)
           ON CONFLICT (order_id) DO UPDATE
             SET version = EXCLUDED.version, status = EXCLUDED.status, body = EXCLUDED.body,
                 timeline = EXCLUDED.timeline, snapshot = EXCLUDED.snapshot, updated_at = now()
             WHERE orders_view.version < EXCLUDED.version""",
        [r.order_id for r in rows],
        [r.version for r in rows],
        [r.status for r in rows],
        [r.body for r in rows],
        [r.timeline for r in rows],
        [r.snapshot for r in rows],
    )


async def load_view(pool: asyncpg.Pool, order_id: str) -> OrderView | None:
    row = await pool.fetchrow(
        "SELECT body, timeline, snapshot FROM orders_view WHERE order_id = $1", order_id
    )
    if row is None:
        return None
    return OrderView(json.loads(row["body"]), json.loads(row["timeline"]), bytes(row["snapshot"]))


async def remember_objects(pool: asyncpg.Pool, pairs: list[tuple[str, str]]) -> None:
    """Map Stripe ids (PaymentIntent, charge, session) to their orders, in one statement."""
    if not pairs:
        return
    await pool.execute(
        "INSERT INTO orders_payment_objects (object_id, order_id) "
        "SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (object_id) DO NOTHING",
        [object_id for object_id, _ in pairs],
        [order_id for _, order_id in pairs],
    )


async def order_of(pool: asyncpg.Pool, object_ids: list[str]) -> str | None:
    if not object_ids:
        return None
    value = await pool.fetchval(
        "SELECT order_id FROM orders_payment_objects WHERE object_id = ANY($1::text[]) LIMIT 1",
        object_ids,
    )
    return str(value) if value is not None else None


async def expired_authorizations(pool: asyncpg.Pool, window_s: int) -> list[tuple[str, str]]:
    """(order id, PaymentIntent id) of authorizations held longer than `window_s`."""
    rows = await pool.fetch(
        """SELECT order_id, body->'payment'->>'payment_intent_id' AS intent
           FROM orders_view
           WHERE status = 'created'
             AND body->'payment'->>'status' = 'authorized'
             AND (body->'payment'->>'authorized_at')::timestamptz
                 < now() - make_interval(secs => $1)""",
        float(window_s),
    )
    return [(row["order_id"], row["intent"]) for row in rows if row["intent"]]


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: Any


class IdempotencyConflict(Exception):
    """The key was used with another request, or the first request is still running."""


async def claim_key(pool: asyncpg.Pool, scope: str, key: str, fingerprint: str) -> Replay | None:
    """Claim `key` for this request; None means go ahead, a Replay is the first answer."""
    inserted = await pool.fetchval(
        "INSERT INTO orders_idempotency (scope, key, fingerprint) VALUES ($1, $2, $3) "
        "ON CONFLICT (scope, key) DO NOTHING RETURNING 1",
        scope,
        key,
        fingerprint,
    )
    if inserted:
        return None
    row = await pool.fetchrow(
        "SELECT fingerprint, status_code, body FROM orders_idempotency "
        "WHERE scope = $1 AND key = $2",
        scope,
        key,
    )
    if row is None:  # released between the two statements: try once more
        return await claim_key(pool, scope, key, fingerprint)
    if row["fingerprint"] != fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was used with a different request")
    if row["status_code"] is None:
        raise IdempotencyConflict("a request with this Idempotency-Key is still in progress")
    return Replay(int(row["status_code"]), json.loads(row["body"]))


async def complete_key(
    pool: asyncpg.Pool, scope: str, key: str, status_code: int, body: Any
) -> None:
    await pool.execute(
        "UPDATE orders_idempotency SET status_code = $3, body = $4::jsonb "
        "WHERE scope = $1 AND key = $2",
        scope,
        key,
        status_code,
        json.dumps(body),
    )


async def release_key(pool: asyncpg.Pool, scope: str, key: str) -> None:
    """Forget a claim whose request failed in a way the client may retry (5xx)."""
    await pool.execute(
        "DELETE FROM orders_idempotency WHERE scope = $1 AND key = $2 AND status_code IS NULL",
        scope,
        key,
    )
