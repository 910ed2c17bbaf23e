"""Contract: Checkout Sessions in payment mode, completed by the emulator's hosted page."""

from __future__ import annotations

import pytest
import stripe

from tests.integration.stripe_emulator.support import Emulator, expanded, present


def _session(client: stripe.StripeClient, **extra: object) -> stripe.checkout.Session:
    params: dict[str, object] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 1500,
                    "product_data": {"name": "Mug"},
                },
                "quantity": 2,
            },
            {
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 500,
                    "product_data": {"name": "Card"},
                },
                "quantity": 1,
            },
        ],
        "success_url": "https://shop.test/ok?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.test/cancel",
        "metadata": {"order_id": "o-42"},
        "payment_intent_data": {"metadata": {"order_id": "o-42"}, "transfer_group": "order_o-42"},
        **extra,
    }
    return client.v1.checkout.sessions.create(params)  # type: ignore[arg-type]


def test_create_retrieve_and_line_items(client: stripe.StripeClient) -> None:
    session = _session(client)
    assert session.id.startswith("cs_test_")
    assert (session.status, session.payment_status, session.amount_total) == (
        "open",
        "unpaid",
        3500,
    )
    assert session.url is not None and "/_emulator/checkout/sessions/" in session.url
    fetched = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["line_items"]})
    assert [item.quantity for item in present(fetched.line_items).data] == [2, 1]
    items = client.v1.checkout.sessions.line_items.list(session.id)
    assert [item.description for item in items.data] == ["Mug", "Card"]


def test_complete_fires_checkout_session_completed(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    session = _session(client)
    done = emulator.post(f"/_emulator/checkout/sessions/{session.id}/complete")
    assert (done["status"], done["payment_status"]) == ("complete", "paid")
    intent = client.v1.payment_intents.retrieve(
        done["payment_intent"], {"expand": ["latest_charge"]}
    )
    assert (intent.status, intent.amount, intent.metadata["order_id"]) == (
        "succeeded",
        3500,
        "o-42",
    )
    assert expanded(intent.latest_charge, stripe.Charge).transfer_group == "order_o-42"
    event = client.v1.events.list({"type": "checkout.session.completed"}).data[0]
    assert event.data.object.metadata["order_id"] == "o-42"
    assert event.data.object.payment_intent == intent.id
    assert present(event.request).id is None
    status, _ = emulator.call("POST", f"/_emulator/checkout/sessions/{session.id}/complete", {})
    assert status == 400


def test_expire_and_errors(client: stripe.StripeClient) -> None:
    session = _session(client)
    expired = client.v1.checkout.sessions.expire(session.id)
    assert expired.status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create({"mode": "subscription", "line_items": []})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(
            {"mode": "payment", "line_items": [{"price": "price_123", "quantity": 1}]}
        )
    assert caught.value.code == "resource_missing"
    listed = client.v1.checkout.sessions.list()
    assert [s.id for s in listed.data] == [session.id]
