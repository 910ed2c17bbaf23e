"""The orders API's POST bodies and Idempotency-Key claims, and JSON errors on both services,
end to end over HTTP against the running processes."""

from __future__ import annotations

import hashlib

import aiohttp
import asyncpg
import pytest

from libs.common.kafka.producer import KafkaProducer
from tests.e2e.system import Reply, System, intents_at_stripe, sessions_at_stripe
from tests.e2e.test_orders_payments import created

pytestmark = pytest.mark.e2e


async def post_raw(system: System, path: str, raw: bytes, key: str) -> Reply:
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(system.api_url + path, data=raw, headers=headers) as resp,
    ):
        return Reply(resp.status, await resp.json(), dict(resp.headers))


async def claims(system: System, key: str) -> int:
    conn = await asyncpg.connect(system.env["DATABASE_URL"])
    try:
        count = await conn.fetchval("SELECT count(*) FROM orders_idempotency WHERE key = $1", key)
        return int(count)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        (b"{not json", "invalid_json", None),
        (b'{"note": "x"}', "invalid_request", "note"),
        (b'{"success_url": 5}', "invalid_request", "success_url"),
        (b'{"cancel_url": "not a url"}', "invalid_request", "cancel_url"),
        (b"[1, 2]", "invalid_request", "(body)"),
    ],
)
async def test_bad_bodies_are_400_and_change_nothing(
    system: System, commands: KafkaProducer, raw: bytes, code: str, field: str | None
) -> None:
    order = await created(system, commands)
    path = f"/orders/{order.order_id}/checkout-session"
    key = f"bad-{order.order_id}"

    refused = await post_raw(system, path, raw, key)

    assert refused.status == 400, refused.body
    assert refused.body["error"]["code"] == code
    assert refused.body["error"].get("field") == field
    assert await claims(system, key) == 0
    assert sessions_at_stripe(system, order.order_id) == []
    # The key was not spent: the corrected request goes through with it.
    fixed = await post_raw(system, path, b"{}", key)
    assert fixed.status == 201, fixed.body


async def test_unknown_fields_on_payment_intent_are_refused_before_stripe(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)
    path = f"/orders/{order.order_id}/payment-intent"

    refused = await post_raw(system, path, b'{"amount": 1}', "pi-unknown-field")

    assert refused.status == 400 and refused.body["error"]["field"] == "amount"
    assert intents_at_stripe(system, order.order_id) == []


async def test_a_duplicate_while_the_first_runs_is_request_in_progress(
    system: System, commands: KafkaProducer
) -> None:
    order = await created(system, commands)
    path = f"/orders/{order.order_id}/payment-intent"
    fingerprint = hashlib.sha256(b"POST " + path.encode() + b"\n{}").hexdigest()
    conn = await asyncpg.connect(system.env["DATABASE_URL"])
    try:
        # Given the first request's claim, made a moment ago and not answered yet
        await conn.execute(
            "INSERT INTO orders_idempotency (scope, key, fingerprint) "
            "VALUES ('payment-intent', 'running', $1)",
            fingerprint,
        )
        duplicate = await post_raw(system, path, b"{}", "running")
        other_body = await post_raw(system, path, b"", "running")
        # When it is older than the takeover timeout (60 s): its request crashed
        await conn.execute(
            "UPDATE orders_idempotency SET created_at = now() - interval '1 hour' "
            "WHERE key = 'running'"
        )
        retry = await post_raw(system, path, b"{}", "running")
    finally:
        await conn.close()

    assert duplicate.status == 409 and duplicate.body["error"]["code"] == "request_in_progress"
    assert other_body.status == 409 and other_body.body["error"]["code"] == "idempotency_conflict"
    assert retry.status == 201, retry.body


@pytest.mark.parametrize("service", ["orders", "ingest"])
async def test_unknown_route_wrong_method_and_huge_body_are_json(
    system: System, service: str
) -> None:
    port = system.env["ORDERS_PORT" if service == "orders" else "INGEST_PORT"]
    base = f"http://127.0.0.1:{port}"
    post_path = "/orders/o/payment-intent" if service == "orders" else "/webhooks/stripe"

    missing = await system.request("GET", "/no/such/route", base=base)
    wrong = await system.request("DELETE", "/healthz", base=base)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            base + post_path, data=b"x" * (3 * 1024 * 1024), headers={"Idempotency-Key": "big"}
        ) as resp,
    ):
        huge = Reply(resp.status, await resp.json(), dict(resp.headers))

    assert missing.status == 404 and missing.body["error"]["code"] == "not_found"
    assert wrong.status == 405 and wrong.body["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]
    assert huge.status == 413 and huge.body["error"]["code"] == "body_too_large"
