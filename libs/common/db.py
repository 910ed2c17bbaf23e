"""PostgreSQL through asyncpg: one pool per process, migrations applied in order at start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, **options: Any
) -> asyncpg.Pool:
    """`options` go to asyncpg as they are (`server_settings`, `connection_class`, …)."""
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, **options)
    if pool is None:  # asyncpg types it as optional
        raise RuntimeError("asyncpg returned no pool")
    return pool


MIGRATIONS_LOCK = "schema_migrations"


async def migrate(pool: asyncpg.Pool, name: str, statements: Sequence[str]) -> None:
    """Apply a service's schema statements once. One lock for every service, not one per
    service: all of them create and write the shared `schema_migrations` table, and two
    `CREATE TABLE IF NOT EXISTS` at once still collide in PostgreSQL's catalog. Migrations
    are short and run at start-up only, so serialising them costs nothing that matters."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", MIGRATIONS_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " service text NOT NULL, step int NOT NULL, applied_at timestamptz DEFAULT now(),"
            " PRIMARY KEY (service, step))"
        )
        done = {
            row["step"]
            for row in await conn.fetch(
                "SELECT step FROM schema_migrations WHERE service = $1", name
            )
        }
        for step, statement in enumerate(statements):
            if step in done:
                continue
            await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (service, step) VALUES ($1, $2)", name, step
            )
