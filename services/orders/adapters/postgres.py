"""PostgreSQL: the read model the HTTP API serves, buyers' Stripe customers, the map from
Stripe objects to orders, and the idempotency keys of the API's POST requests.

The Faust table (changelog-backed) is the source of truth of each order; the read model here
is a projection of it in two parts, written together by one statement after each change:
`orders_view`, one small row per order (status and the JSON the UI reads), with a version so
that a replayed or late write never overwrites a newer one; and `orders_facts`, the order's
facts, append-only and keyed by the fact's identity, from which the API folds the order (for
its timeline, fees and payment checks) exactly as the worker does. Appending a change's new
facts instead of rewriting the whole history keeps a write the same size however long the
order's life has been.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from libs.common import db
from services.orders import command_log
from services.orders.command_log import CommandRow

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
    """CREATE TABLE orders_facts (
        order_id text NOT NULL,
        fact_key text NOT NULL,
        fact jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (order_id, fact_key))""",
    # The facts of orders written before `orders_facts` existed, from their snapshots; the
    # key is the fact key of the time (type, cause kind, cause id, extra) in SQL.
    """INSERT INTO orders_facts (order_id, fact_key, fact)
       SELECT v.order_id,
              concat_ws('|', f->>'type', f->'cause'->>'kind', f->'cause'->>'id',
                        CASE f->>'type' WHEN 'ReceiptIssued' THEN f->>'receipt_id'
                                        WHEN 'TransferMade' THEN f->>'transfer_id'
                                        ELSE '' END),
              f
       FROM orders_view v,
            jsonb_array_elements(convert_from(v.snapshot, 'UTF8')::jsonb -> 'facts') AS f
       ON CONFLICT DO NOTHING""",
    "ALTER TABLE orders_view DROP COLUMN timeline, DROP COLUMN snapshot",
    # The API reads an order's payment attempts from here before starting a new one.
    "CREATE INDEX orders_payment_objects_order ON orders_payment_objects (order_id)",
    command_log.SCHEMA,
]


async def connect(dsn: str) -> asyncpg.Pool:
    pool = await db.create_pool(dsn)
    await db.migrate(pool, "orders", SCHEMA)
    return pool


@dataclass(frozen=True)
class ViewRow:
    """One order's read-model row; `body` is JSON text."""

    order_id: str
    version: int
    status: str
    body: str


@dataclass(frozen=True)
class FactRow:
    """One fact of an order as JSON text, under the key that identifies it in the order."""

    order_id: str
    fact_key: str
    fact: str


async def save_changes(
    pool: asyncpg.Pool,
    rows: list[ViewRow],
    facts: list[FactRow],
    objects: list[tuple[str, str]],
    commands: list[CommandRow] | None = None,
) -> None:
    """In one statement: record the outcome of each command decided (the first one kept),
    upsert the rows (one order at most once; a row older than the one
    stored — a late write — leaves the stored one alone; one of the same version replaces it,
    since a retold change can replace a fact without adding one), add the facts not stored
    yet (or the earlier telling of a change stored already, which the order now keeps
    instead: see `evolve`), and map Stripe ids (PaymentIntent, charge, session) to their
    orders."""
    commands = commands or []
    if not (rows or facts or objects or commands):
        return
    await pool.execute(
        """WITH commands AS (
             INSERT INTO orders_commands
               (command_id, order_id, fingerprint, status, code, reason, facts)
             SELECT * FROM unnest($10::text[], $11::text[], $12::text[], $13::text[],
                                  $14::text[], $15::text[], $16::text[])
             ON CONFLICT (command_id) DO NOTHING),
           facts AS (
             INSERT INTO orders_facts (order_id, fact_key, fact)
             SELECT * FROM unnest($5::text[], $6::text[], $7::jsonb[])
             ON CONFLICT (order_id, fact_key) DO UPDATE SET fact = EXCLUDED.fact),
           objects AS (
             INSERT INTO orders_payment_objects (object_id, order_id)
             SELECT * FROM unnest($8::text[], $9::text[])
             ON CONFLICT (object_id) DO NOTHING)
           INSERT INTO orders_view (order_id, version, status, body)
           SELECT o, v, s, b::jsonb
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) AS u(o, v, s, b)
           ON CONFLICT (order_id) DO UPDATE
             SET version = EXCLUDED.version, status = EXCLUDED.status, body = EXCLUDED.body,
                 updated_at = now()
             WHERE orders_view.version <= EXCLUDED.version""",
        [r.order_id for r in rows],
        [r.version for r in rows],
        [r.status for r in rows],
        [r.body for r in rows],
        [f.order_id for f in facts],
        [f.fact_key for f in facts],
        [f.fact for f in facts],
        [object_id for object_id, _ in objects],
        [order_id for _, order_id in objects],
        *command_log.columns(commands),
    )


async def load_body(pool: asyncpg.Pool, order_id: str) -> str | None:
    """The order's JSON body as text, ready to serve."""
    value = await pool.fetchval("SELECT body FROM orders_view WHERE order_id = $1", order_id)
    return str(value) if value is not None else None


async def load_facts(pool: asyncpg.Pool, order_id: str) -> list[str]:
    """The order's facts as JSON texts, in no particular order; none for an unknown order."""
    rows = await pool.fetch("SELECT fact FROM orders_facts WHERE order_id = $1", order_id)
    return [row["fact"] for row in rows]


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


async def charges_without_fee(pool: asyncpg.Pool, limit: int = 200) -> list[tuple[str, str]]:
    """(order id, charge id) of captured payments whose processing fee is not known yet."""
    rows = await pool.fetch(
        """SELECT order_id, body->'payment'->>'charge_id' AS charge
           FROM orders_view
           WHERE body->'payment'->>'status' = 'captured'
             AND body->'payment'->'processing_fee' = 'null'::jsonb
             AND body->'payment'->>'charge_id' IS NOT NULL
           ORDER BY updated_at
           LIMIT $1""",
        limit,
    )
    return [(row["order_id"], row["charge"]) for row in rows]


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: Any


class IdempotencyConflict(Exception):
    """The key was used before with another request (another body or path)."""


class RequestInProgress(Exception):
    """The first request with this key is still running (and not yet stale)."""


async def claim_key(
    pool: asyncpg.Pool, scope: str, key: str, fingerprint: str, takeover_s: float = 60.0
) -> Replay | None:
    """Claim `key` for this request; None means go ahead, a Replay is the first answer.

    A claim left unanswered for `takeover_s` belongs to a request that crashed (or hung):
    this request takes it over, in the same statement that would have inserted it, so two
    duplicates arriving after the timeout cannot both take it."""
    claimed = await pool.fetchval(
        """INSERT INTO orders_idempotency (scope, key, fingerprint) VALUES ($1, $2, $3)
           ON CONFLICT (scope, key) DO UPDATE SET created_at = now()
             WHERE orders_idempotency.status_code IS NULL
               AND orders_idempotency.fingerprint = EXCLUDED.fingerprint
               AND orders_idempotency.created_at < now() - make_interval(secs => $4)
           RETURNING 1""",
        scope,
        key,
        fingerprint,
        float(takeover_s),
    )
    if claimed:
        return None
    row = await pool.fetchrow(
        "SELECT fingerprint, status_code, body FROM orders_idempotency "
        "WHERE scope = $1 AND key = $2",
        scope,
        key,
    )
    if row is None:  # released between the two statements: try once more
        return await claim_key(pool, scope, key, fingerprint, takeover_s)
    if row["fingerprint"] != fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was used with a different request")
    if row["status_code"] is None:
        raise RequestInProgress("a request with this Idempotency-Key is still in progress")
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
