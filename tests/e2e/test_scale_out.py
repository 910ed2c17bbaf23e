"""Two orders workers in one group: a killed one's partitions move to the other, and no command
is lost or applied twice."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.infra.process import free_port
from libs.common.contracts import orders_commands as oc
from libs.common.contracts.envelope import Envelope
from libs.common.kafka.admin import ensure_topics
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import ORDERS_COMMANDS, ORDERS_EVENTS, TopicNames
from tests.e2e.system import command, new_order
from tests.support import processes
from tests.support.backends import Infra
from tests.support.kafka import read_topic

pytestmark = pytest.mark.e2e
ORDERS = 48


def _assigned(port: str) -> set[str]:
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return set(json.loads(resp.read()).get("assigned", []))
    except OSError as exc:
        if isinstance(exc, urllib.error.HTTPError):
            return set(json.loads(exc.read()).get("assigned", []))
        return set()


def _wait_assigned(ports: list[str], prefix: str, each: bool, timeout: float = 120) -> None:
    """Until the workers on `ports` own every partition between them (and, with `each`, every
    one of them owns some)."""
    wanted = {f"{prefix}orders.commands:{p}" for p in range(ORDERS_COMMANDS.partitions)}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owned = [_assigned(port) for port in ports]
        if wanted <= set().union(*owned) and (not each or all(owned)):
            return
        time.sleep(0.3)
    raise AssertionError(f"partitions never spread over the workers on {ports}")


@pytest.fixture
def two_workers(
    infra: Infra, e2e_logs: Path
) -> Iterator[tuple[dict[str, str], list[processes.Running], list[str]]]:
    prefix = f"so{uuid.uuid4().hex[:8]}."
    ensure_topics(infra.kafka_bootstrap, TopicNames(prefix).all_names())
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "DATABASE_URL": infra.database_url,
        "TOPIC_PREFIX": prefix,
        "LOG_FORMAT": "text",
        "ORDERS_WORKER_ID": f"orders-{uuid.uuid4().hex[:6]}",
        "STRIPE_API_BASE": "http://127.0.0.1:9",  # these orders never reach Stripe
    }
    workers: list[processes.Running] = []
    ports = [str(free_port()), str(free_port())]
    try:
        for n, port in enumerate(ports, 1):
            workers.append(
                processes.start(
                    f"scale-out-worker-{n}",
                    ["services.orders", "worker"],
                    env={**env, "ORDERS_WORKER_PORT": port},
                    log_dir=e2e_logs,
                    health_url=f"http://127.0.0.1:{port}/healthz",
                )
            )
        yield env, workers, ports
    finally:
        for running in workers:
            running.stop()


async def _send(producer: KafkaProducer, prefix: str, commands: list[oc.OrderCommandBase]) -> None:
    topic = TopicNames(prefix).name(ORDERS_COMMANDS)
    for cmd in commands:
        envelope: Envelope[Any] = Envelope(producer="backend-api", payload=cmd)
        await producer.send(topic, oc.CONTRACT.encode(envelope), key=cmd.order_id)


async def test_a_killed_worker_s_partitions_move_and_nothing_is_lost_or_doubled(
    two_workers: tuple[dict[str, str], list[processes.Running], list[str]],
) -> None:
    env, workers, ports = two_workers
    prefix = env["TOPIC_PREFIX"]
    await asyncio.to_thread(_wait_assigned, ports, prefix, True)
    orders = [new_order() for _ in range(ORDERS)]
    producer = KafkaProducer(env["KAFKA_BOOTSTRAP_SERVERS"], client_id="backend-api")
    try:
        await _send(producer, prefix, orders)
        cancels = [command(oc.CancelOrder, o.order_id, reason="changed mind") for o in orders]
        # when one worker dies (no clean shutdown) halfway through the cancels
        await _send(producer, prefix, cancels[: ORDERS // 2])
        workers[0].stop(signal.SIGKILL)
        await _send(producer, prefix, cancels[ORDERS // 2 :])
    finally:
        producer.close()
    # then the other takes over all partitions and every order ends canceled, each change once
    await asyncio.to_thread(_wait_assigned, [ports[1]], prefix, False, 180)
    topic = TopicNames(prefix).name(ORDERS_EVENTS)
    wanted = {o.order_id for o in orders}
    deadline = time.monotonic() + 120
    while True:
        records = await read_topic(env["KAFKA_BOOTSTRAP_SERVERS"], topic, expected=10**6, timeout=2)
        facts = {}
        for record in records:
            body = json.loads(record.value())
            if body["payload"]["order_id"] in wanted:
                facts[body["message_id"]] = body["payload"]
        kinds = Counter((f["order_id"], f["type"]) for f in facts.values())
        canceled = {o for (o, kind) in kinds if kind == "OrderCanceled"}
        if canceled == wanted or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    assert canceled == wanted
    assert all(kinds[(o, "OrderCreated")] == 1 for o in wanted)
    assert all(kinds[(o, "OrderCanceled")] == 1 for o in wanted)
    assert not any(kind == "CommandRejected" for (_, kind) in kinds)
