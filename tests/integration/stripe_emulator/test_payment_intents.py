"""Contract: payment methods, PaymentIntents (automatic/manual capture, 3DS, declines), charges."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.integration.stripe_emulator.support import Emulator, expanded, id_of, present


def _pay(
    client: stripe.StripeClient, method: str = "pm_card_visa", **extra: Any
) -> stripe.PaymentIntent:
    params: dict[str, Any] = {
        "amount": 2000,
        "currency": "usd",
        "payment_method": method,
        "confirm": True,
        **extra,
    }
    return client.v1.payment_intents.create(params)  # type: ignore[arg-type]


def test_automatic_capture_creates_charge_and_fee(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"email": "buyer@example.com"})
    intent = _pay(
        client,
        customer=customer.id,
        metadata={"order_id": "o-1"},
        transfer_group="order_o-1",
        expand=["latest_charge.balance_transaction"],
    )
    assert intent.status == "succeeded"
    assert (intent.amount_received, intent.amount_capturable) == (2000, 0)
    assert present(intent.client_secret).startswith(f"{intent.id}_secret_")
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert charge.metadata["order_id"] == "o-1"
    assert (charge.payment_intent, charge.customer, charge.paid) == (intent.id, customer.id, True)
    assert (charge.transfer_group, charge.disputed, charge.refunded) == ("order_o-1", False, False)
    transaction = charge.balance_transaction
    assert isinstance(transaction, stripe.BalanceTransaction)
    assert (transaction.amount, transaction.fee, transaction.net) == (2000, 88, 1912)
    assert transaction.type == "charge"
    assert client.v1.balance.retrieve().available[0].amount == 1912


def _fee(intent: stripe.PaymentIntent) -> int:
    charge = expanded(intent.latest_charge, stripe.Charge)
    return expanded(charge.balance_transaction, stripe.BalanceTransaction).fee


def test_fee_rounds_half_up_and_zero_decimal_currencies(client: stripe.StripeClient) -> None:
    usd = _pay(client, amount=1050, expand=["latest_charge.balance_transaction"])
    assert _fee(usd) == 30 + 30  # 30.45 rounds to 30
    odd = _pay(client, amount=1500, expand=["latest_charge.balance_transaction"])
    assert _fee(odd) == 44 + 30  # 43.5 rounds up to 44
    jpy = _pay(client, amount=5000, currency="jpy", expand=["latest_charge.balance_transaction"])
    assert _fee(jpy) == 180  # 3.6 %, no fixed part in yen
    krw = _pay(client, amount=5000, currency="krw", expand=["latest_charge.balance_transaction"])
    assert _fee(krw) == 145  # 2.9 %, no fixed part in won


def test_events_of_a_successful_payment(client: stripe.StripeClient) -> None:
    intent = _pay(client)
    events = list(reversed(client.v1.events.list().data))
    assert [e.type for e in events] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    assert events[0].data.object.status == "requires_confirmation"  # a snapshot, not the present
    assert events[2].data.object.id == intent.id
    request = present(events[2].request)
    assert present(request.id).startswith("req_")
    assert request.idempotency_key  # the SDK sends one on every POST


def test_create_then_confirm_separately(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create({"amount": 1000, "currency": "eur"})
    assert intent.status == "requires_payment_method"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.confirm(intent.id)
    assert caught.value.code == "payment_intent_unexpected_state"
    confirmed = client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    again = client.v1.payment_intents.update(intent.id, {"metadata": {"note": "x"}})
    assert again.metadata["note"] == "x"


def test_validation_errors(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as small:
        client.v1.payment_intents.create({"amount": 10, "currency": "usd"})
    assert (small.value.code, small.value.param) == ("amount_too_small", "amount")
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.create({"currency": "usd"})  # type: ignore[typeddict-item]
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "amount")
    with pytest.raises(stripe.InvalidRequestError) as no_customer:
        client.v1.payment_intents.create({"amount": 100, "currency": "usd", "customer": "cus_nope"})
    assert no_customer.value.param == "customer"
    with pytest.raises(stripe.InvalidRequestError) as fee:
        client.v1.payment_intents.create(
            {"amount": 1000, "currency": "usd", "application_fee_amount": 100}
        )
    assert fee.value.param == "application_fee_amount"


@pytest.mark.parametrize(
    ("method", "decline_code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
    ],
)
def test_declines(client: stripe.StripeClient, method: str, decline_code: str) -> None:
    with pytest.raises(stripe.CardError) as caught:
        _pay(client, method)
    error = caught.value
    assert (error.http_status, error.code) == (402, "card_declined")
    assert error.error is not None
    assert error.error.decline_code == decline_code
    intent = client.v1.payment_intents.retrieve(present(error.error.payment_intent).id)
    assert intent.status == "requires_payment_method"
    last_error = present(intent.last_payment_error)
    assert (last_error.decline_code, last_error.code) == (decline_code, "card_declined")
    failed = client.v1.charges.retrieve(id_of(intent.latest_charge))
    assert (failed.status, failed.failure_code, failed.balance_transaction) == (
        "failed",
        "card_declined",
        None,
    )
    types = [e.type for e in client.v1.events.list().data]
    assert types[:2] == ["payment_intent.payment_failed", "charge.failed"]
    retried = client.v1.payment_intents.confirm(intent.id, {"payment_method": "pm_card_visa"})
    assert retried.status == "succeeded"


def test_decline_by_raw_card_number(client: stripe.StripeClient) -> None:
    data = {
        "type": "card",
        "card": {"number": "4000000000009995", "exp_month": 12, "exp_year": 2030},
    }
    with pytest.raises(stripe.CardError) as caught:
        _pay(client, method="", payment_method_data=data)
    assert caught.value.error is not None
    assert caught.value.error.decline_code == "insufficient_funds"


def test_payment_method_from_card_number(client: stripe.StripeClient) -> None:
    method = client.v1.payment_methods.create(
        {"type": "card", "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2031}}
    )
    assert method.id.startswith("pm_")
    card = present(method.card)
    assert (card.last4, card.brand, card.exp_year) == ("4242", "visa", 2031)
    customer = client.v1.customers.create({"email": "pm@example.com"})
    client.v1.payment_methods.attach(method.id, {"customer": customer.id})
    listed = client.v1.customers.payment_methods.list(customer.id)
    assert [m.id for m in listed.data] == [method.id]
    intent = _pay(client, method.id, customer=customer.id)
    assert intent.status == "succeeded"
    with pytest.raises(stripe.CardError) as caught:
        client.v1.payment_methods.create({"type": "card", "card": {"number": "4242424242424241"}})
    assert caught.value.code == "incorrect_number"


@pytest.mark.parametrize(
    "method", ["pm_card_threeDSecure2Required", "pm_card_authenticationRequired"]
)
def test_three_d_secure_succeeds_after_challenge(
    client: stripe.StripeClient, emulator: Emulator, method: str
) -> None:
    intent = _pay(client, method)
    assert intent.status == "requires_action"
    assert present(intent.next_action).type == "use_stripe_sdk"
    assert intent.latest_charge is None
    done = emulator.post(
        f"/_emulator/payment_intents/{intent.id}/authenticate", {"outcome": "succeed"}
    )
    assert done["status"] == "succeeded"
    event = client.v1.events.list({"type": "payment_intent.succeeded"}).data[0]
    assert present(event.request).id is None  # the buyer's challenge is not an API request
    types = [e.type for e in client.v1.events.list().data]
    assert "payment_intent.requires_action" in types


def test_three_d_secure_redirect_and_failure(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    data = {
        "type": "card",
        "card": {"number": "4000002500003155", "exp_month": 1, "exp_year": 2031},
    }
    intent = _pay(client, "", payment_method_data=data, return_url="https://shop.test/return")
    assert intent.status == "requires_action"
    next_action = present(intent.next_action)
    assert next_action.type == "redirect_to_url"
    assert present(next_action.redirect_to_url).return_url == "https://shop.test/return"
    failed = emulator.post(
        f"/_emulator/payment_intents/{intent.id}/authenticate", {"outcome": "fail"}
    )
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    status, error = emulator.call(
        "POST", f"/_emulator/payment_intents/{intent.id}/authenticate", {}
    )
    assert status == 400
    assert "not requires_action" in error["error"]["message"]


def test_manual_capture_partial(client: stripe.StripeClient) -> None:
    intent = _pay(client, capture_method="manual")
    assert (intent.status, intent.amount_capturable) == ("requires_capture", 2000)
    charge = client.v1.charges.retrieve(id_of(intent.latest_charge))
    assert (charge.captured, charge.balance_transaction) == (False, None)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.capture(intent.id, {"amount_to_capture": 5000})
    captured = client.v1.payment_intents.capture(intent.id, {"amount_to_capture": 1500})
    assert (captured.status, captured.amount_received, captured.amount_capturable) == (
        "succeeded",
        1500,
        0,
    )
    charge = client.v1.charges.retrieve(
        id_of(captured.latest_charge), {"expand": ["balance_transaction"]}
    )
    assert (charge.captured, charge.amount_captured) == (True, 1500)
    assert expanded(charge.balance_transaction, stripe.BalanceTransaction).amount == 1500
    types = [e.type for e in client.v1.events.list().data]
    assert types[:2] == ["payment_intent.succeeded", "charge.captured"]
    assert "payment_intent.amount_capturable_updated" in types


def test_cancel(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create({"amount": 1000, "currency": "usd"})
    canceled = client.v1.payment_intents.cancel(intent.id, {"cancellation_reason": "abandoned"})
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    assert client.v1.events.list().data[0].type == "payment_intent.canceled"
    paid = _pay(client)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.cancel(paid.id)
    assert caught.value.code == "payment_intent_unexpected_state"


def test_list_search_and_charges(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create({"email": "l@example.com"})
    first = _pay(client, customer=customer.id, metadata={"order_id": "o-7"})
    _pay(client)
    by_customer = client.v1.payment_intents.list({"customer": customer.id})
    assert [p.id for p in by_customer.data] == [first.id]
    found = client.v1.payment_intents.search({"query": "metadata['order_id']:'o-7'"})
    assert [p.id for p in found.data] == [first.id]
    charges = client.v1.charges.list({"payment_intent": first.id})
    assert [c.id for c in charges.data] == [first.latest_charge]
    updated = client.v1.charges.update(id_of(first.latest_charge), {"metadata": {"shipped": "yes"}})
    assert updated.metadata.to_dict() == {"order_id": "o-7", "shipped": "yes"}
    assert client.v1.events.list().data[0].type == "charge.updated"
