"""Contract: signed webhook delivery, Connect routing, retries, pending_webhooks, resend."""

from __future__ import annotations

import pytest
import stripe

from tests.integration.stripe_emulator.support import (
    Emulator,
    WebhookReceiver,
    types_of,
    wait_until,
)


def _register(client: stripe.StripeClient, url: str, *, connect: bool = False) -> str:
    endpoint = client.v1.webhook_endpoints.create(
        {"url": url, "enabled_events": ["*"], "connect": connect}
    )
    assert endpoint.secret is not None
    assert endpoint.secret.startswith("whsec_")
    return endpoint.secret


def _pay(client: stripe.StripeClient, **options: str) -> stripe.PaymentIntent:
    return client.v1.payment_intents.create(
        {"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True},
        options,  # type: ignore[arg-type]
    )


def test_delivered_webhook_verifies_with_the_endpoint_secret(
    client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    secret = _register(client, receiver.url)
    intent = _pay(client)
    receiver.wait_for(lambda events: "payment_intent.succeeded" in types_of(events))
    deliveries = receiver.snapshot()
    for delivery in deliveries:
        event = stripe.Webhook.construct_event(delivery.body, delivery.signature, secret)
        assert "account" not in event
    succeeded = next(
        d.event() for d in deliveries if d.event()["type"] == "payment_intent.succeeded"
    )
    assert succeeded["data"]["object"]["id"] == intent.id
    assert types_of([d.event() for d in deliveries]) == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    wait_until(lambda: client.v1.events.retrieve(succeeded["id"]).pending_webhooks == 0)


def test_signature_does_not_verify_with_another_secret(
    client: stripe.StripeClient, receiver: WebhookReceiver
) -> None:
    _register(client, receiver.url)
    client.v1.customers.create({"email": "x@example.com"})
    receiver.wait_for(lambda events: len(events) == 1)
    delivery = receiver.snapshot()[0]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(delivery.body, delivery.signature, "whsec_wrong")


def test_connect_events_go_to_connect_endpoints_only(
    client: stripe.StripeClient, emulator: Emulator, receiver: WebhookReceiver
) -> None:
    platform = WebhookReceiver().start()
    try:
        connect_secret = _register(client, receiver.url, connect=True)
        _register(client, platform.url)
        account = client.v1.accounts.create({"type": "standard"})
        emulator.post(f"/_emulator/accounts/{account.id}/complete_onboarding")
        _pay(client, stripe_account=account.id)
        client.v1.customers.create({"email": "platform@example.com"})
        connect_events = receiver.wait_for(lambda e: "payment_intent.succeeded" in types_of(e))
        platform.wait_for(lambda e: "customer.created" in types_of(e))
        assert {e["account"] for e in connect_events} == {account.id}
        assert "account.updated" in types_of(connect_events)
        assert types_of(platform.events()) == ["customer.created"]
        first = receiver.snapshot()[0]
        event = stripe.Webhook.construct_event(first.body, first.signature, connect_secret)
        assert event.account == account.id
    finally:
        platform.stop()


def test_enabled_events_filter(client: stripe.StripeClient, receiver: WebhookReceiver) -> None:
    client.v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["payment_intent.succeeded"]}
    )
    _pay(client)
    events = receiver.wait_for(lambda e: len(e) >= 1)
    assert types_of(events) == ["payment_intent.succeeded"]


def test_retries_after_server_errors(
    client: stripe.StripeClient, emulator: Emulator, receiver: WebhookReceiver
) -> None:
    receiver.statuses.extend([500, 503])
    _register(client, receiver.url)
    customer = client.v1.customers.create({"email": "retry@example.com"})
    receiver.wait_for(lambda e: len(e) == 3)
    attempts = receiver.snapshot()
    assert len({a.event()["id"] for a in attempts}) == 1
    assert attempts[1].at - attempts[0].at >= 0.04  # --retry-base-ms 40
    assert attempts[2].at - attempts[1].at >= 0.08  # then doubled
    event = client.v1.events.list().data[0]
    assert event.data.object.id == customer.id
    wait_until(lambda: client.v1.events.retrieve(event.id).pending_webhooks == 0)
    records = emulator.get(f"/_emulator/events/{event.id}/deliveries")["deliveries"]
    assert records[0]["status"] == "succeeded"
    assert records[0]["attempts"] == 3


def test_gives_up_after_max_attempts_and_resend_recovers(
    client: stripe.StripeClient, emulator: Emulator, receiver: WebhookReceiver
) -> None:
    receiver.statuses.extend([500] * 4)  # the emulator under test makes 4 attempts
    secret = _register(client, receiver.url)
    client.v1.customers.create({"email": "down@example.com"})
    event_id = client.v1.events.list().data[0].id
    wait_until(
        lambda: (
            emulator.get(f"/_emulator/events/{event_id}/deliveries")["deliveries"][0]["status"]
            == "failed"
        )
    )
    assert client.v1.events.retrieve(event_id).pending_webhooks == 1
    failed = client.v1.events.list({"delivery_success": False}).data
    assert [e.id for e in failed] == [event_id]
    emulator.post(f"/_emulator/events/{event_id}/resend")
    receiver.wait_for(lambda e: len(e) == 5)
    last = receiver.snapshot()[-1]
    assert stripe.Webhook.construct_event(last.body, last.signature, secret).id == event_id
    wait_until(lambda: client.v1.events.list({"delivery_success": False}).data == [])


def test_unreachable_endpoint_times_out_and_is_retried(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    client.v1.webhook_endpoints.create(
        {"url": "http://127.0.0.1:9/unreachable", "enabled_events": ["*"]}
    )
    client.v1.customers.create({"email": "nobody@example.com"})
    event_id = client.v1.events.list().data[0].id

    def attempts() -> int:
        return int(
            emulator.get(f"/_emulator/events/{event_id}/deliveries")["deliveries"][0]["attempts"]
        )

    wait_until(lambda: attempts() >= 2)
    assert emulator.get("/_emulator/state")["pending_deliveries"] >= 0


def test_webhook_endpoint_crud(client: stripe.StripeClient) -> None:
    created = client.v1.webhook_endpoints.create(
        {"url": "http://127.0.0.1:1/hook", "enabled_events": ["charge.succeeded"], "connect": True}
    )
    fetched = client.v1.webhook_endpoints.retrieve(created.id)
    assert fetched["connect"] is True
    assert "secret" not in fetched
    updated = client.v1.webhook_endpoints.update(created.id, {"disabled": True})
    assert updated.status == "disabled"
    assert [e.id for e in client.v1.webhook_endpoints.list().data] == [created.id]
    assert client.v1.webhook_endpoints.delete(created.id).deleted is True
