"""`payments infra up | down` and `payments status --json`, as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import stripe

from devtools.infra.process import free_port


def payments(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def infra_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        "VAR_DIR": str(tmp_path / "var"),
        "EMBEDDED_KAFKA_PORT": str(free_port()),
        "EMBEDDED_POSTGRES_PORT": str(free_port()),
        "STRIPE_EMULATOR_PORT": str(free_port()),
        "INGEST_PORT": str(free_port()),
        "ORDERS_PORT": str(free_port()),
        "ORDERS_WORKER_PORT": str(free_port()),
    }
    yield env
    payments(["infra", "down"], env)


def test_up_is_idempotent_status_reports_and_down_stops(infra_env: dict[str, str]) -> None:
    first = payments(["infra", "up"], infra_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("started") == 4

    again = payments(["infra", "up"], infra_env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("reused") == 4

    status = payments(["status", "--json"], infra_env)
    report = json.loads(status.stdout)
    components = report["components"]
    assert all(c["healthy"] for c in components.values()), components
    assert components["kafka"]["url"] == f"127.0.0.1:{infra_env['EMBEDDED_KAFKA_PORT']}"
    assert components["clickhouse"]["url"].startswith("chdb://")
    # no service runs under `infra up` alone: they are listed, and reported down
    assert set(report["services"]) >= {"ingest", "orders", "orders-api"}
    assert report["healthy"] is False and status.returncode == 1

    down = payments(["infra", "down"], infra_env)
    assert down.returncode == 0
    after = json.loads(payments(["status", "--json"], infra_env).stdout)
    assert not any(c["healthy"] for n, c in after["components"].items() if n != "clickhouse")
    run_dir = Path(infra_env["VAR_DIR"]) / "run"
    assert not list(run_dir.glob("*.pid"))


def test_taken_port_is_a_clear_error(infra_env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(infra_env["EMBEDDED_KAFKA_PORT"])))
        squatter.listen()
        result = payments(["infra", "up"], infra_env)
    assert result.returncode == 2
    assert infra_env["EMBEDDED_KAFKA_PORT"] in result.stderr
    assert "EMBEDDED_KAFKA_PORT" in result.stderr


def test_a_fresh_broker_makes_a_fresh_world(infra_env: dict[str, str]) -> None:
    # given a running stack that has a customer at the emulator and a table in PostgreSQL
    assert payments(["infra", "up"], infra_env).returncode == 0
    database = f"postgresql://postgres@127.0.0.1:{infra_env['EMBEDDED_POSTGRES_PORT']}/payments"
    emulator = f"http://127.0.0.1:{infra_env['STRIPE_EMULATOR_PORT']}"
    client = stripe.StripeClient("sk_test_emulator", base_addresses={"api": emulator})
    client.v1.customers.create({"email": "ada@example.com"})
    asyncio.run(_execute(database, "CREATE TABLE remembered (id int)"))
    # when `infra up` finds it running, nothing is forgotten
    assert payments(["infra", "up"], infra_env).returncode == 0
    assert asyncio.run(_tables(database)) == ["remembered"]
    assert len(client.v1.customers.list().data) == 1
    # when the broker restarts (it keeps nothing), the rest is reset with it
    run_dir = Path(infra_env["VAR_DIR"]) / "run"
    os.kill(int((run_dir / "kafka.pid").read_text()), signal.SIGTERM)
    again = payments(["infra", "up"], infra_env)
    assert again.returncode == 0, again.stderr
    assert "fresh as a whole" in again.stdout
    assert asyncio.run(_tables(database)) == []
    assert client.v1.customers.list().data == []


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _tables(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return sorted(r["tablename"] for r in rows)
    finally:
        await conn.close()
