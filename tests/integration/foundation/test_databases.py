"""PostgreSQL over asyncpg and ClickHouse through clickhouse-connect, on the real engines."""

from __future__ import annotations

import uuid

from libs.common import clickhouse, db
from tests.support.backends import Infra


async def test_asyncpg_runs_queries_and_migrations_once(infra: Infra) -> None:
    pool = await db.create_pool(infra.database_url)
    name = f"test_{uuid.uuid4().hex[:8]}"
    steps = [f"CREATE TABLE {name} (id int PRIMARY KEY, amount bigint NOT NULL)"]
    try:
        await db.migrate(pool, name, steps)
        await db.migrate(pool, name, steps)  # a second start applies nothing twice
        async with pool.acquire() as conn:
            await conn.execute(f"INSERT INTO {name} VALUES (1, 1234)")
            assert await conn.fetchval(f"SELECT amount FROM {name} WHERE id = 1") == 1234
            assert await conn.fetchval("SELECT 40 + 2") == 42
    finally:
        await pool.close()


def test_clickhouse_table_written_and_read(infra: Infra) -> None:
    client = clickhouse.connect(infra.clickhouse_dsn)
    table = f"payments_{uuid.uuid4().hex[:8]}"
    client.command(
        f"CREATE TABLE {table} (id String, amount Int64, currency LowCardinality(String)) "
        "ENGINE = MergeTree ORDER BY id"
    )
    client.insert(
        table,
        [["pi_1", 1234, "usd"], ["pi_2", 500, "jpy"]],
        column_names=["id", "amount", "currency"],
    )
    rows = client.query(f"SELECT id, amount, currency FROM {table} ORDER BY id").result_rows
    assert rows == [("pi_1", 1234, "usd"), ("pi_2", 500, "jpy")]
    client.command(f"DROP TABLE {table}")
