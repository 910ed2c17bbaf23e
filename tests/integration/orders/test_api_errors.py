"""The orders API's unexpected failures: a database that fails under a request is a JSON 500
without a traceback, for reads and for idempotent POSTs (whose claim is not kept)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import stripe
from aiohttp.test_utils import TestServer

from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import TopicNames
from services.orders.adapters import postgres
from services.orders.adapters.stripe_gateway import StripeGateway
from services.orders.api import Deps, create_app
from services.orders.fees import FeePolicy
from tests.support.backends import Infra

pytestmark = pytest.mark.integration


@pytest.fixture
async def broken_api(infra: Infra, topics: TopicNames) -> AsyncIterator[str]:
    """The API whose database pool closes under it."""
    pool = await postgres.connect(infra.database_url)
    producer = KafkaProducer(infra.kafka_bootstrap, client_id="orders-api-test")
    gateway = StripeGateway(stripe.StripeClient("sk_test_unused", max_network_retries=0))
    deps = Deps(pool, gateway, producer, topics, FeePolicy(), "http://127.0.0.1")
    server = TestServer(create_app(deps), host="127.0.0.1")
    await server.start_server()
    await pool.close()
    yield str(server.make_url("")).rstrip("/")
    await server.close()
    producer.close()


async def call(base: str, method: str, path: str) -> tuple[int, Any]:
    headers = {"Idempotency-Key": "k-1"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, base + path, json={}, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/orders/ord_1"), ("GET", "/orders/ord_1/fees"), ("POST", "/orders/o/payment-intent")],
)
async def test_a_failing_database_is_a_json_500(broken_api: str, method: str, path: str) -> None:
    status, body = await call(broken_api, method, path)
    assert status == 500
    assert body["error"]["code"] == "internal_error"
    assert "Traceback" not in body["error"]["message"]
    assert "pool" not in body["error"]["message"]
