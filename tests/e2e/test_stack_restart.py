"""`make up` as a user runs it: a whole stack stopped and started again still serves a returning
buyer, and two stacks on other ports run side by side without talking to each other."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import stripe

from devtools.infra.process import free_port
from libs.common.contracts import orders_commands as oc
from libs.common.contracts.envelope import Envelope
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import ORDERS_COMMANDS, TopicNames
from tests.e2e.system import new_order
from tests.support.processes import REPO_ROOT

pytestmark = pytest.mark.e2e
PORTS = (
    "EMBEDDED_KAFKA_PORT", "EMBEDDED_POSTGRES_PORT", "STRIPE_EMULATOR_PORT", "INGEST_PORT",
    "ORDERS_PORT", "ORDERS_WORKER_PORT",
)  # fmt: skip


def stack_env(var_dir: Path) -> dict[str, str]:
    env = {name: str(free_port()) for name in PORTS}
    return {**env, "VAR_DIR": str(var_dir), "BACKFILL_INTERVAL_S": "0"}


def _json(url: str, body: dict[str, Any] | None = None, key: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def _healthy(env: dict[str, str]) -> bool:
    status = subprocess.run(
        [sys.executable, "-m", "services.cli", "status", "--json"],
        env={**_base_env(), **env}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return status.returncode == 0


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "KAFKA_"))}


@contextmanager
def stack(env: dict[str, str], log: Path) -> Iterator[None]:
    """`payments up` in the foreground, as `make up` runs it; Ctrl-C (SIGINT) on the way out."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up"],
            env={**_base_env(), **env}, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 150
        while not _healthy(env):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1.0)
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def pay(env: dict[str, str], buyer_id: str) -> str:
    """A new order of `buyer_id`, paid by card; returns its id once the API shows it paid."""
    order = new_order(buyer_id=buyer_id)
    producer = KafkaProducer(f"127.0.0.1:{env['EMBEDDED_KAFKA_PORT']}", client_id="backend")
    envelope: Envelope[Any] = Envelope(producer="backend", payload=order)
    try:
        topic = TopicNames().name(ORDERS_COMMANDS)
        await producer.send(topic, oc.CONTRACT.encode(envelope), key=order.order_id)
    finally:
        producer.close()
    api = f"http://127.0.0.1:{env['ORDERS_PORT']}/orders/{order.order_id}"
    await _until(lambda: _order(api) is not None)
    intent = await asyncio.to_thread(_json, f"{api}/payment-intent", {}, uuid.uuid4().hex)
    emulator = f"http://127.0.0.1:{env['STRIPE_EMULATOR_PORT']}"
    client = stripe.StripeClient("sk_test_emulator", base_addresses={"api": emulator})
    await asyncio.to_thread(
        client.v1.payment_intents.confirm, intent["id"], {"payment_method": "pm_card_visa"}
    )
    await _until(lambda: (_order(api) or {}).get("status") == "paid")
    return order.order_id


def _order(url: str) -> dict[str, Any] | None:
    try:
        return dict(_json(url))
    except OSError:
        return None


async def _until(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, "the stack never got there"
        await asyncio.sleep(0.3)


async def test_a_restarted_stack_serves_a_returning_buyer(tmp_path: Path) -> None:
    env = stack_env(tmp_path / "var")
    buyer = f"buyer_{uuid.uuid4().hex[:8]}"
    with stack(env, tmp_path / "first.log"):
        await pay(env, buyer)
    # when the same stack is started again (its broker starts empty)
    with stack(env, tmp_path / "second.log"):
        # then the returning buyer pays again, and Stripe's webhooks reach the new order
        await pay(env, buyer)
    logs = Path(env["VAR_DIR"]) / "logs"
    assert {"ingest.log", "orders.log", "orders-api.log"} <= {p.name for p in logs.iterdir()}


async def test_two_stacks_on_other_ports_run_side_by_side(tmp_path: Path) -> None:
    first, second = stack_env(tmp_path / "a"), stack_env(tmp_path / "b")
    with stack(first, tmp_path / "a.log"), stack(second, tmp_path / "b.log"):
        await asyncio.gather(pay(first, "buyer_a"), pay(second, "buyer_b"))
        # each emulator knows only its own stack's customer
        for env, buyer in ((first, "buyer_a"), (second, "buyer_b")):
            emulator = f"http://127.0.0.1:{env['STRIPE_EMULATOR_PORT']}"
            client = stripe.StripeClient("sk_test_emulator", base_addresses={"api": emulator})
            customers = client.v1.customers.list().data
            assert [c.metadata["buyer_id"] for c in customers] == [buyer]
