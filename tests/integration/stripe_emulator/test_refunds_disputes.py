"""Contract: refunds (full, partial, several, never over the captured amount) and disputes."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.integration.stripe_emulator.support import Emulator, id_of, present


def _charge(client: stripe.StripeClient, amount: int = 3000, **extra: str) -> stripe.Charge:
    intent = client.v1.payment_intents.create(
        {
            "amount": amount,
            "currency": "usd",
            "payment_method": extra.get("method", "pm_card_visa"),
            "confirm": True,
            "expand": ["latest_charge"],
        }
    )
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    return charge


def test_partial_refunds_then_over_refund_is_refused(client: stripe.StripeClient) -> None:
    charge = _charge(client)
    first = client.v1.refunds.create(
        {"charge": charge.id, "amount": 1000, "reason": "requested_by_customer"}
    )
    assert (first.status, first.amount, first.reason) == (
        "succeeded",
        1000,
        "requested_by_customer",
    )
    intent_id = id_of(charge.payment_intent)
    second = client.v1.refunds.create({"payment_intent": intent_id, "amount": 500})
    assert second.charge == charge.id
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"charge": charge.id, "amount": 1501})
    assert (caught.value.http_status, caught.value.code, caught.value.param) == (
        400,
        "amount_too_large",
        "amount",
    )
    after = client.v1.charges.retrieve(charge.id)
    assert (after.amount_refunded, after.refunded) == (1500, False)
    rest = client.v1.refunds.create({"charge": charge.id})
    assert rest.amount == 1500
    assert client.v1.charges.retrieve(charge.id).refunded is True
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create({"charge": charge.id, "amount": 1})
    assert again.value.code == "charge_already_refunded"
    listed = client.v1.refunds.list({"charge": charge.id})
    assert [r.id for r in listed.data] == [rest.id, second.id, first.id]


def test_refund_events_and_balance_transactions(client: stripe.StripeClient) -> None:
    charge = _charge(client)
    refund = client.v1.refunds.create(
        {
            "charge": charge.id,
            "amount": 700,
            "metadata": {"why": "late"},
            "expand": ["balance_transaction"],
        }
    )
    transaction = refund.balance_transaction
    assert isinstance(transaction, stripe.BalanceTransaction)
    assert (transaction.type, transaction.amount, transaction.fee, transaction.source) == (
        "refund",
        -700,
        0,
        refund.id,
    )
    events = client.v1.events.list({"limit": 2}).data
    assert [e.type for e in events] == ["refund.created", "charge.refunded"]
    assert present(events[1].data.previous_attributes)["amount_refunded"] == 0
    updated = client.v1.refunds.update(refund.id, {"metadata": {"why": "very late"}})
    assert present(updated.metadata)["why"] == "very late"
    assert client.v1.events.list().data[0].type == "refund.updated"
    refunds = client.v1.balance_transactions.list({"type": "refund"}).data
    assert [t.id for t in refunds] == [transaction.id]


def test_refund_of_a_payment_intent_without_charge(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create({"amount": 1000, "currency": "usd"})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.refunds.create({"payment_intent": intent.id})
    assert caught.value.param == "payment_intent"


def test_dispute_lifecycle_won(client: stripe.StripeClient, emulator: Emulator) -> None:
    charge = _charge(client, amount=4000)
    opened = emulator.post(
        f"/_emulator/charges/{charge.id}/dispute", {"reason": "product_not_received"}
    )
    dispute = client.v1.disputes.retrieve(opened["id"])
    assert (dispute.status, dispute.amount, dispute.reason) == (
        "needs_response",
        4000,
        "product_not_received",
    )
    withdrawal = dispute.balance_transactions[0]
    assert (withdrawal.amount, withdrawal.fee, withdrawal.type) == (-4000, 1500, "adjustment")
    assert client.v1.charges.retrieve(charge.id).disputed is True
    types = [e.type for e in client.v1.events.list({"limit": 3}).data]
    assert types == ["charge.dispute.funds_withdrawn", "charge.updated", "charge.dispute.created"]
    created = client.v1.events.list({"type": "charge.dispute.created"}).data[0]
    assert present(created.request).id is None
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.refunds.create({"charge": charge.id})
    assert refused.value.code == "charge_disputed"
    staged = client.v1.disputes.update(
        dispute.id, {"evidence": {"shipping_tracking_number": "TRACK1"}, "submit": False}
    )
    assert (staged.status, staged.evidence.shipping_tracking_number) == ("needs_response", "TRACK1")
    submitted = client.v1.disputes.update(
        dispute.id, {"evidence": {"uncategorized_text": "delivered"}, "submit": True}
    )
    assert submitted.status == "under_review"
    assert submitted.evidence_details.submission_count == 1
    assert client.v1.events.list().data[0].type == "charge.dispute.updated"
    closed = emulator.post(f"/_emulator/disputes/{dispute.id}/close", {"outcome": "won"})
    assert closed["status"] == "won"
    types = [e.type for e in client.v1.events.list({"limit": 2}).data]
    assert types == ["charge.dispute.closed", "charge.dispute.funds_reinstated"]
    net = sum(t.net for t in client.v1.balance_transactions.list({"limit": 100}).data)
    assert client.v1.balance.retrieve().available[0].amount == net == 4000 - 146 - 1500


def test_dispute_lost_and_accept(client: stripe.StripeClient, emulator: Emulator) -> None:
    first = emulator.post(f"/_emulator/charges/{_charge(client).id}/dispute", {})
    lost = emulator.post(f"/_emulator/disputes/{first['id']}/close", {"outcome": "lost"})
    assert lost["status"] == "lost"
    status, _ = emulator.call(
        "POST", f"/_emulator/disputes/{first['id']}/close", {"outcome": "won"}
    )
    assert status == 400
    second = emulator.post(f"/_emulator/charges/{_charge(client).id}/dispute", {})
    accepted = client.v1.disputes.close(second["id"])
    assert accepted.status == "lost"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.disputes.update(second["id"], {"evidence": {"receipt": "x"}})
    assert "already closed" in str(caught.value.user_message)
    assert len(client.v1.disputes.list().data) == 2


def test_bad_evidence_field_and_dispute_card(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    charge = _charge(client, method="pm_card_createDispute")
    disputes = client.v1.disputes.list({"charge": charge.id}).data
    assert len(disputes) == 1
    with pytest.raises(stripe.InvalidRequestError) as caught:
        unknown_field: Any = {"evidence": {"favourite_colour": "blue"}}
        client.v1.disputes.update(disputes[0].id, unknown_field)
    assert caught.value.param == "evidence[favourite_colour]"
    status, _ = emulator.call("POST", f"/_emulator/charges/{charge.id}/dispute", {})
    assert status == 400
