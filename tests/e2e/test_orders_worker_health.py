"""A worker that cannot advance says so: /healthz answers 503 with the reason (and `payments
status` reports it down) while PostgreSQL refuses its commits with an infrastructure error,
which is retried, never dead-lettered; once PostgreSQL takes them the order completes."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from devtools.infra import stack
from devtools.infra.process import free_port
from libs.common.kafka.producer import KafkaProducer
from libs.common.settings import InfraSettings
from tests.e2e.system import System, new_order, wait_for_assignment
from tests.support import processes

pytestmark = pytest.mark.e2e


@pytest.fixture
def stall_env(system: System, e2e_logs: Path) -> Iterator[dict[str, str]]:
    """A worker of its own (own topics and group) that calls a partition stalled after 1 s."""
    env = {
        **system.env,
        "TOPIC_PREFIX": f"stall{uuid.uuid4().hex[:8]}.",
        "ORDERS_WORKER_ID": f"orders-stall-{uuid.uuid4().hex[:6]}",
        "ORDERS_WORKER_PORT": str(free_port()),
        "ORDERS_STALL_AFTER_S": "1",
        "STRIPE_API_BASE": system.emulator_url,
    }
    worker = processes.start(
        "orders-worker-stall",
        ["services.orders", "worker"],
        env=env,
        log_dir=e2e_logs,
        health_url=f"http://127.0.0.1:{env['ORDERS_WORKER_PORT']}/healthz",
    )
    try:
        wait_for_assignment(env, timeout=120)
        yield env
    finally:
        worker.stop()


def _health(env: dict[str, str]) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{env['ORDERS_WORKER_PORT']}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def _until_health(env: dict[str, str], status: int, timeout: float = 90.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while loop.time() < deadline:
        code, last = await asyncio.to_thread(_health, env)
        if code == status:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"/healthz never answered {status}; last: {last}")


async def test_a_worker_that_cannot_commit_is_unhealthy_until_it_can(
    system: System,
    stall_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order = new_order()
    conn = await asyncpg.connect(stall_env["DATABASE_URL"])
    function = f"refuse_{uuid.uuid4().hex[:8]}"
    # given PostgreSQL answers this order's write with "too many connections" (53300)
    await conn.execute(
        f"""CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.order_id = '{order.order_id}' THEN
                RAISE EXCEPTION 'too many connections (test)' USING ERRCODE = '53300';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER {function} BEFORE INSERT ON orders_view
              FOR EACH ROW EXECUTE FUNCTION {function}();"""
    )
    monkeypatch.setenv("ORDERS_WORKER_PORT", stall_env["ORDERS_WORKER_PORT"])
    producer = KafkaProducer(stall_env["KAFKA_BOOTSTRAP_SERVERS"], client_id="backend-api")
    stall_system = System(
        env=stall_env, emulator_url=system.emulator_url, logs=system.logs, worker=system.worker
    )
    try:
        assert stack.status(InfraSettings())["services"]["orders"]["healthy"]
        await stall_system.send(producer, order)
        # then the worker reports the stalled partition, and `payments status` says so
        body = await _until_health(stall_env, 503)
        assert body["status"] == "stalled"
        assert any("orders.commands" in reason for reason in body["reasons"])
        assert not stack.status(InfraSettings())["services"]["orders"]["healthy"]
    finally:
        await conn.execute(f"DROP TRIGGER {function} ON orders_view; DROP FUNCTION {function}()")
        await conn.close()
    # when PostgreSQL takes the write again, the same order completes (no DLQ) and all is well
    await _until_health(stall_env, 200)
    await system.wait_order(order.order_id, lambda o: o["status"] == "created", timeout=90)
    producer.close()
