"""Fault injection: what real Stripe does to webhook receivers, on demand."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import stripe

from tests.integration.stripe_emulator.support import (
    Emulator,
    WebhookReceiver,
    make_client,
    wait_until,
)


def _register(client: stripe.StripeClient, receiver: WebhookReceiver) -> stripe.WebhookEndpoint:
    return client.v1.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["*"]})


def _customers(client: stripe.StripeClient, count: int) -> list[str]:
    return [client.v1.customers.create({"name": f"n{i}"}).id for i in range(count)]


def test_duplicates_arrive(
    client: stripe.StripeClient, emulator: Emulator, receiver: WebhookReceiver
) -> None:
    endpoint = _register(client, receiver)
    emulator.faults({"webhooks": {"duplicate": 2}})
    _customers(client, 3)
    events = receiver.wait_for(lambda e: len(e) == 9)
    assert set(Counter(e["id"] for e in events).values()) == {3}
    for delivery in receiver.snapshot():
        stripe.Webhook.construct_event(delivery.body, delivery.signature, endpoint.secret)
    wait_until(lambda: client.v1.events.list({"delivery_success": True}).data != [])


def test_order_is_shuffled_within_a_window(
    client: stripe.StripeClient, emulator: Emulator, receiver: WebhookReceiver
) -> None:
    _register(client, receiver)
    emulator.faults({"webhooks": {"shuffle_window": 8}, "seed": 7})
    created = _customers(client, 8)
    events = receiver.wait_for(lambda e: len(e) == 8)
    delivered = [e["data"]["object"]["id"] for e in events]
    assert sorted(delivered) == sorted(created)
    assert delivered != created


def test_dropped_events_show_up_as_undelivered(
    client: stripe.StripeClient, emulator: Emulator, receiver: WebhookReceiver
) -> None:
    _register(client, receiver)
    emulator.faults({"webhooks": {"drop_rate": 0.5}, "seed": 3})
    _customers(client, 10)
    all_ids = {e.id for e in client.v1.events.list({"limit": 100}).data}
    wait_until(lambda: emulator.get("/_emulator/state")["pending_deliveries"] == 0)
    received = {e["id"] for e in receiver.events()}
    undelivered = {e.id for e in client.v1.events.list({"delivery_success": False}).data}
    assert 0 < len(undelivered) < 10
    assert undelivered == all_ids - received
    for event_id in undelivered:  # the recovery path: resend (or backfill from the Events API)
        emulator.post(f"/_emulator/events/{event_id}/resend")
    receiver.wait_for(lambda e: {x["id"] for x in e} == all_ids)
    wait_until(lambda: client.v1.events.list({"delivery_success": False}).data == [])


def test_bad_signatures_fail_verification_then_are_retried(
    client: stripe.StripeClient, emulator: Emulator, receiver: WebhookReceiver
) -> None:
    endpoint = _register(client, receiver)
    emulator.faults({"webhooks": {"bad_signature_rate": 1.0}})
    client.v1.customers.create({"email": "sig@example.com"})
    receiver.wait_for(lambda e: len(e) == 1)
    first = receiver.snapshot()[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(first.body, first.signature, endpoint.secret)


def test_delay(client: stripe.StripeClient, emulator: Emulator, receiver: WebhookReceiver) -> None:
    _register(client, receiver)
    emulator.faults({"webhooks": {"delay_ms": 300}})
    started = time.monotonic()
    client.v1.customers.create({"email": "slow@example.com"})
    receiver.wait_for(lambda e: len(e) == 1)
    assert receiver.snapshot()[0].at - started >= 0.3


def test_faults_per_endpoint(
    client: stripe.StripeClient, emulator: Emulator, receiver: WebhookReceiver
) -> None:
    other = WebhookReceiver().start()
    try:
        noisy = _register(client, receiver)
        _register(client, other)
        emulator.faults({"endpoints": {noisy.id: {"duplicate": 1}}})
        client.v1.customers.create({"email": "per@example.com"})
        receiver.wait_for(lambda e: len(e) == 2)
        other.wait_for(lambda e: len(e) == 1)
        time.sleep(0.1)
        assert len(other.events()) == 1
    finally:
        other.stop()


def test_empty_body_clears_faults_and_bad_settings_are_rejected(emulator: Emulator) -> None:
    emulator.faults({"webhooks": {"duplicate": 1}, "api": {"fail_next": 1}})
    cleared = emulator.faults({})
    assert cleared["webhooks"]["duplicate"] == 0
    assert cleared["api"]["fail_next_remaining"] == 0
    status, body = emulator.call("POST", "/_emulator/faults", {"webhooks": {"drop_rate": 2}})
    assert status == 400
    assert "drop_rate" in body["error"]["message"]
    status, _ = emulator.call("POST", "/_emulator/faults", {"webhooks": {"nonsense": 1}})
    assert status == 400


def test_api_faults_and_sdk_retries(emulator: Emulator) -> None:
    emulator.faults({"api": {"fail_next": 1, "status": 500}})
    with pytest.raises(stripe.APIError):
        make_client(emulator).v1.customers.create({"email": "a@example.com"})
    emulator.faults({"api": {"fail_next": 2, "status": 503}})
    patient = make_client(emulator, max_network_retries=2)
    customer = patient.v1.customers.create({"email": "b@example.com"})
    assert patient.v1.customers.list().data[0].id == customer.id
    emulator.faults({"api": {"fail_next": 1, "status": 429}})
    with pytest.raises(stripe.RateLimitError):
        make_client(emulator).v1.balance.retrieve()
