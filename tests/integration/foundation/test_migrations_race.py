"""Every service migrating one fresh database at the same moment, as `make up` starts them."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from libs.common import db
from services.ingest.adapters import postgres as ingest_db
from services.orders.adapters import postgres as orders_db
from tests.support.backends import Infra

SCHEMAS = {"ingest": ingest_db.MIGRATIONS, "orders": orders_db.SCHEMA}


def _on_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _migrate(dsn: str, service: str) -> None:
    pool = await db.create_pool(dsn, max_size=2)
    try:
        await db.migrate(pool, service, SCHEMAS[service])
    finally:
        await pool.close()


async def test_services_starting_together_on_a_fresh_database_all_migrate(infra: Infra) -> None:
    admin = await asyncpg.connect(infra.database_url)
    try:
        for _ in range(20):
            name = f"fresh_{uuid.uuid4().hex[:10]}"
            await admin.execute(f'CREATE DATABASE "{name}"')
            dsn = _on_database(infra.database_url, name)
            try:
                # two processes of each service, as several workers may start at once
                await asyncio.gather(*(_migrate(dsn, s) for s in [*SCHEMAS, *SCHEMAS]))
                conn = await asyncpg.connect(dsn)
                try:
                    steps = await conn.fetch(
                        "SELECT service, count(*) AS n FROM schema_migrations GROUP BY service"
                    )
                finally:
                    await conn.close()
                assert {r["service"]: r["n"] for r in steps} == {
                    s: len(schema) for s, schema in SCHEMAS.items()
                }
            finally:
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()
