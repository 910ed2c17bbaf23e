"""Contract: the Events API used for backfill, and balance transaction filters for recon."""

from __future__ import annotations

import time

import stripe

from tests.integration.stripe_emulator.support import Emulator, present


def test_filters_and_pagination(client: stripe.StripeClient) -> None:
    for i in range(3):
        client.v1.customers.create({"name": f"c{i}"})
    client.v1.payment_intents.create({"amount": 1000, "currency": "usd"})
    everything = client.v1.events.list({"limit": 100}).data
    assert len(everything) == 4
    only_customers = client.v1.events.list({"type": "customer.created"}).data
    assert len(only_customers) == 3
    several = client.v1.events.list({"types": ["customer.created", "payment_intent.created"]}).data
    assert len(several) == 4
    page = client.v1.events.list({"limit": 2})
    rest = client.v1.events.list({"limit": 2, "starting_after": page.data[-1].id})
    assert [e.id for e in page.data + rest.data] == [e.id for e in everything]
    future = int(time.time()) + 3600
    assert client.v1.events.list({"created": {"gte": future}}).data == []
    assert len(client.v1.events.list({"created": {"lte": future}}).data) == 4
    fetched = client.v1.events.retrieve(everything[0].id)
    assert (fetched.type, fetched.api_version) == (
        "payment_intent.created",
        everything[0].api_version,
    )


def test_events_are_snapshots_and_record_the_request(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"name": "before"}, {"idempotency_key": "create-1"})
    client.v1.customers.update(customer.id, {"name": "after"})
    updated, created = client.v1.events.list().data
    assert created.data.object.name == "before"
    assert updated.data.object.name == "after"
    request = present(created.request)
    assert request.idempotency_key == "create-1"
    assert present(request.id).startswith("req_")


def test_balance_transaction_filters(client: stripe.StripeClient, emulator: Emulator) -> None:
    intent = client.v1.payment_intents.create(
        {"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    client.v1.refunds.create({"payment_intent": intent.id, "amount": 300})
    charges = client.v1.balance_transactions.list({"type": "charge"}).data
    assert [t.amount for t in charges] == [1000]
    assert charges[0].reporting_category == "charge"
    one = client.v1.balance_transactions.retrieve(charges[0].id)
    assert one.source == intent.latest_charge
    future = int(time.time()) + 3600
    assert client.v1.balance_transactions.list({"created": {"gt": future}}).data == []
    assert len(client.v1.balance_transactions.list({"created": {"lt": future}}).data) == 2
