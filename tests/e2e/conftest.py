"""The system as processes: Stripe emulator, ingest, orders worker and orders API, on the
session's broker and PostgreSQL, under a topic prefix of their own. Stripe's webhooks reach
the orders worker only through ingest, exactly as in production."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from devtools.infra.process import free_port
from libs.common.kafka.admin import ensure_topics
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import TopicNames
from tests.e2e.system import System, wait_for_assignment
from tests.support import processes
from tests.support.backends import Infra

EMULATOR_TIMINGS = ["--retry-base-ms", "100", "--retry-max-ms", "1000", "--max-attempts", "8"]


@pytest.fixture(scope="session")
def e2e_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture(scope="session")
def system_env(infra: Infra) -> dict[str, str]:
    prefix = f"e2e{uuid.uuid4().hex[:8]}."
    names = TopicNames(prefix)
    ensure_topics(infra.kafka_bootstrap, names.all_names())
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "DATABASE_URL": infra.database_url,
        "CLICKHOUSE_DSN": infra.clickhouse_dsn,
        "TOPIC_PREFIX": prefix,
        "LOG_FORMAT": "text",
        "STRIPE_SECRET_KEY": "sk_test_emulator",
        "INGEST_PORT": str(free_port()),
        "ORDERS_PORT": str(free_port()),
        "ORDERS_WORKER_PORT": str(free_port()),
        "ORDERS_WORKER_ID": f"orders-{uuid.uuid4().hex[:6]}",
        "BACKFILL_INTERVAL_S": "0",
        # Long enough for the manual-capture test to capture, short enough to see expiry.
        "ORDERS_AUTHORIZATION_WINDOW_S": "15",
        "ORDERS_EXPIRY_SCAN_INTERVAL_S": "1",
    }


@pytest.fixture(scope="session")
def emulator_url(e2e_logs: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["devtools.stripe_emulator", "--host", "127.0.0.1", "--port", str(port)]
    with processes.started(
        "stripe-emulator",
        [*args, *EMULATOR_TIMINGS],
        env={},
        log_dir=e2e_logs,
        health_url=f"{url}/_emulator/health",
    ):
        yield url


@pytest.fixture(scope="session")
def system(system_env: dict[str, str], emulator_url: str, e2e_logs: Path) -> Iterator[System]:
    env = {**system_env, "STRIPE_API_BASE": emulator_url}
    started: list[processes.Running] = []
    system: System | None = None
    try:
        # Each process is stopped on the way out, also when a later one fails to start.
        started.append(_start("ingest", "services.ingest", "serve", "INGEST_PORT", env, e2e_logs))
        worker = _start("orders-worker", "services.orders", "worker", "ORDERS_WORKER_PORT",
                        env, e2e_logs)  # fmt: skip
        started.append(worker)
        wait_for_assignment(env, timeout=120)
        started.append(_start("orders-api", "services.orders", "api", "ORDERS_PORT", env, e2e_logs))
        system = System(env=env, emulator_url=emulator_url, logs=e2e_logs, worker=worker)
        yield system
    finally:
        if system is not None:
            started[1] = system.worker  # a test may have restarted it
        for running in reversed(started):
            running.stop()


def _start(
    name: str, module: str, role: str, port: str, env: dict[str, str], logs: Path
) -> processes.Running:
    return processes.start(
        name,
        [module, role],
        env=env,
        log_dir=logs,
        health_url=f"http://127.0.0.1:{env[port]}/healthz",
    )


@pytest.fixture
async def commands(system: System) -> AsyncIterator[KafkaProducer]:
    producer = KafkaProducer(system.env["KAFKA_BOOTSTRAP_SERVERS"], client_id="backend-api")
    yield producer
    producer.close()
