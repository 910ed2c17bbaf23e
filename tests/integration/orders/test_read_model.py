"""The orders read model in PostgreSQL: one statement per batch, stale rows ignored, facts
appended once, and databases from before `orders_facts` migrated with their facts."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from libs.common import db
from services.orders.adapters import postgres
from services.orders.domain.aggregate import fact_json, from_facts_json, snapshot
from services.orders.domain.identity import fact_key
from services.orders.domain.state import Order
from tests.support.backends import Infra
from tests.unit.orders.builders import (
    charge_succeeded,
    create,
    refunded,
    requires_action,
    run,
    succeeded,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def dsn(infra: Infra) -> AsyncIterator[str]:
    """A database of its own, so that migrations start from nothing."""
    name = f"orders_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield infra.database_url.rsplit("/", 1)[0] + "/" + name
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


def paid_order() -> Order:
    events = [requires_action(10), succeeded(20), charge_succeeded(20), refunded(300, 30)]
    order = run(events, run([create()]))
    assert order is not None
    return order


def rows_of(order: Order, version: int, status: str) -> list[postgres.ViewRow]:
    return [postgres.ViewRow(order.order_id, version, status, json.dumps({"status": status}))]


def facts_of(order: Order) -> list[postgres.FactRow]:
    return [
        postgres.FactRow(order.order_id, fact_key(f), fact_json(f).decode()) for f in order.facts
    ]


async def test_a_batch_is_written_once_and_a_stale_row_is_ignored(dsn: str) -> None:
    pool = await postgres.connect(dsn)
    order = paid_order()
    try:
        await postgres.save_changes(
            pool, rows_of(order, 5, "paid"), facts_of(order), [("pi_1", order.order_id)]
        )
        # a replay of the batch, then a late write of an older version
        await postgres.save_changes(pool, rows_of(order, 5, "paid"), facts_of(order), [])
        await postgres.save_changes(pool, rows_of(order, 2, "created"), facts_of(order)[:2], [])

        body = await postgres.load_body(pool, order.order_id)
        assert body is not None and json.loads(body) == {"status": "paid"}
        stored = await postgres.load_facts(pool, order.order_id)
        assert len(stored) == len(order.facts)
        assert from_facts_json(stored).view() == order.view()
        assert await postgres.order_of(pool, ["pi_1"]) == order.order_id
        assert await postgres.load_facts(pool, "ord_unknown") == []
        assert await postgres.load_body(pool, "ord_unknown") is None
    finally:
        await pool.close()


async def test_orders_written_before_the_facts_table_keep_their_facts(dsn: str) -> None:
    # given a database at the schema that kept each order's snapshot on its row
    pool = await db.create_pool(dsn)
    order = paid_order()
    try:
        await db.migrate(pool, "orders", postgres.SCHEMA[:4])
        await pool.execute(
            "INSERT INTO orders_view (order_id, version, status, body, timeline, snapshot)"
            " VALUES ($1, $2, 'paid', '{}', '[]', $3)",
            order.order_id,
            len(order.facts),
            snapshot(order),
        )
    finally:
        await pool.close()

    # when the service starts on it
    pool = await postgres.connect(dsn)
    try:
        # then every fact is in orders_facts (under the key format of that schema's time:
        # folding dedupes by identity, so older keys and newer ones fold to the same order)
        stored = await pool.fetch(
            "SELECT fact_key FROM orders_facts WHERE order_id = $1", order.order_id
        )
        assert len(stored) == len(order.facts)
        restored = from_facts_json(await postgres.load_facts(pool, order.order_id))
        assert restored.view() == order.view()
        columns = await pool.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders_view'"
        )
        assert {"timeline", "snapshot"}.isdisjoint(c["column_name"] for c in columns)
    finally:
        await pool.close()
