"""Contract: Connect accounts, onboarding, destination/direct charges, transfers, reversals,
application fees and payouts."""

from __future__ import annotations

import pytest
import stripe

from tests.integration.stripe_emulator.support import Emulator, expanded, id_of, present, wait_until


def _seller(client: stripe.StripeClient, emulator: Emulator, *, onboard: bool = True) -> str:
    account = client.v1.accounts.create(
        {
            "type": "express",
            "country": "US",
            "email": "seller@example.com",
            "capabilities": {
                "card_payments": {"requested": True},
                "transfers": {"requested": True},
            },
        }
    )
    if onboard:
        emulator.post(f"/_emulator/accounts/{account.id}/complete_onboarding")
    return account.id


def _charge(
    client: stripe.StripeClient, amount: int = 10_000, **extra: object
) -> stripe.PaymentIntent:
    params: dict[str, object] = {
        "amount": amount,
        "currency": "usd",
        "payment_method": "pm_card_visa",
        "confirm": True,
        **extra,
    }
    return client.v1.payment_intents.create(params)  # type: ignore[arg-type]


def test_account_onboarding(client: stripe.StripeClient, emulator: Emulator) -> None:
    account_id = _seller(client, emulator, onboard=False)
    account = client.v1.accounts.retrieve(account_id)
    assert (account.type, account.charges_enabled, account.payouts_enabled) == (
        "express",
        False,
        False,
    )
    assert present(account.requirements).currently_due
    link = client.v1.account_links.create(
        {
            "account": account_id,
            "refresh_url": "https://shop.test/refresh",
            "return_url": "https://shop.test/return",
            "type": "account_onboarding",
        }
    )
    assert link.url.startswith("http://127.0.0.1:")
    assert link.expires_at > link.created
    done = emulator.post(f"/_emulator/accounts/{account_id}/complete_onboarding")
    assert (done["charges_enabled"], done["payouts_enabled"], done["details_submitted"]) == (
        True,
        True,
        True,
    )
    assert done["capabilities"] == {"card_payments": "active", "transfers": "active"}
    events = client.v1.events.list(options={"stripe_account": account_id}).data
    assert [(e.type, e.account) for e in events] == [("account.updated", account_id)]
    assert present(events[0].data.previous_attributes)["charges_enabled"] is False
    current = client.v1.accounts.retrieve_current(options={"stripe_account": account_id})
    assert current.id == account_id
    assert [a.id for a in client.v1.accounts.list().data] == [account_id]


def test_destination_charge_with_application_fee(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    seller = _seller(client, emulator)
    intent = _charge(
        client,
        application_fee_amount=1000,
        transfer_data={"destination": seller},
        transfer_group="order_9",
        expand=["latest_charge"],
    )
    charge = expanded(intent.latest_charge, stripe.Charge)
    transfer = client.v1.transfers.retrieve(id_of(charge.transfer))
    assert (transfer.amount, transfer.destination, transfer.source_transaction) == (
        9000,
        seller,
        charge.id,
    )
    fee = client.v1.application_fees.retrieve(id_of(charge.application_fee))
    assert (fee.amount, fee.account, fee.charge) == (1000, seller, charge.id)
    seller_balance = client.v1.balance.retrieve(options={"stripe_account": seller})
    assert seller_balance.available[0].amount == 9000
    platform = client.v1.balance.retrieve().available[0].amount
    assert platform == 10_000 - 320 - 9000
    types = {e.type for e in client.v1.events.list({"limit": 20}).data}
    assert {"transfer.created", "application_fee.created", "payment_intent.succeeded"} <= types
    with pytest.raises(stripe.InvalidRequestError) as caught:
        _charge(client, transfer_data={"destination": "acct_missing"})
    assert caught.value.param == "transfer_data[destination]"


def test_separate_charge_and_transfer_with_reversals(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    seller = _seller(client, emulator)
    intent = _charge(client, transfer_group="order_1")
    transfer = client.v1.transfers.create(
        {
            "amount": 7000,
            "currency": "usd",
            "destination": seller,
            "source_transaction": id_of(intent.latest_charge),
            "transfer_group": "order_1",
            "metadata": {"order_id": "1"},
        }
    )
    assert (transfer.amount, transfer.transfer_group, transfer.reversed) == (7000, "order_1", False)
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.transfers.create(
            {
                "amount": 5000,
                "currency": "usd",
                "destination": seller,
                "source_transaction": id_of(intent.latest_charge),
            }
        )
    assert too_much.value.code == "amount_too_large"
    reversal = client.v1.transfers.reversals.create(transfer.id, {"amount": 2000})
    assert (reversal.amount, reversal.transfer) == (2000, transfer.id)
    with pytest.raises(stripe.InvalidRequestError) as over:
        client.v1.transfers.reversals.create(transfer.id, {"amount": 5001})
    assert over.value.code == "amount_too_large"
    rest = client.v1.transfers.reversals.create(transfer.id)
    assert rest.amount == 5000
    after = client.v1.transfers.retrieve(transfer.id)
    assert (after.amount_reversed, after.reversed) == (7000, True)
    assert [r.id for r in client.v1.transfers.reversals.list(transfer.id).data] == [
        rest.id,
        reversal.id,
    ]
    assert [e.type for e in client.v1.events.list({"limit": 2}).data] == ["transfer.reversed"] * 2
    assert client.v1.balance.retrieve(options={"stripe_account": seller}).available[0].amount == 0
    listed = client.v1.transfers.list({"transfer_group": "order_1"})
    assert [t.id for t in listed.data] == [transfer.id]


def test_transfer_errors(client: stripe.StripeClient, emulator: Emulator) -> None:
    pending = _seller(client, emulator, onboard=False)
    with pytest.raises(stripe.InvalidRequestError) as not_ready:
        client.v1.transfers.create({"amount": 100, "currency": "usd", "destination": pending})
    assert not_ready.value.code == "insufficient_capabilities_for_transfer"
    seller = _seller(client, emulator)
    with pytest.raises(stripe.InvalidRequestError) as broke:
        client.v1.transfers.create({"amount": 100, "currency": "usd", "destination": seller})
    assert broke.value.code == "balance_insufficient"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.transfers.create({"amount": 100, "currency": "usd", "destination": "acct_nope"})
    assert missing.value.code == "resource_missing"


def test_direct_charge_on_connected_account(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    seller = _seller(client, emulator)
    options: stripe.RequestOptions = {"stripe_account": seller}
    intent = client.v1.payment_intents.create(
        {"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
         "application_fee_amount": 400, "expand": ["latest_charge.balance_transaction"]},
        options,
    )  # fmt: skip
    charge = expanded(intent.latest_charge, stripe.Charge)
    transaction = expanded(charge.balance_transaction, stripe.BalanceTransaction)
    assert transaction.fee == 175 + 400
    assert [d.type for d in transaction.fee_details] == ["stripe_fee", "application_fee"]
    fees = client.v1.application_fees.list().data
    assert [(f.amount, f.account) for f in fees] == [(400, seller)]
    assert client.v1.balance.retrieve().available[0].amount == 400
    refund = client.v1.application_fees.refunds.create(fees[0].id, {"amount": 100})
    assert refund.amount == 100
    assert client.v1.application_fees.retrieve(fees[0].id).amount_refunded == 100
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.retrieve(intent.id)  # it lives on the connected account


def test_payouts_on_connected_account(client: stripe.StripeClient, emulator: Emulator) -> None:
    seller = _seller(client, emulator)
    options: stripe.RequestOptions = {"stripe_account": seller}
    _charge(client, transfer_data={"destination": seller})
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.payouts.create({"amount": 999_999, "currency": "usd"}, options)
    assert too_much.value.code == "balance_insufficient"
    payout = client.v1.payouts.create({"amount": 4000, "currency": "usd"}, options)
    assert (payout.status, payout.automatic, payout.method) == ("pending", False, "standard")
    assert payout.arrival_date >= payout.created + 2 * 86400
    wait_until(lambda: client.v1.payouts.retrieve(payout.id, options=options).status == "paid")
    events = client.v1.events.list({"type": "payout.*"}, options).data
    assert [(e.type, e.account) for e in events] == [
        ("payout.paid", seller),
        ("payout.created", seller),
    ]
    assert present(events[0].request).id is None
    in_payout = client.v1.balance_transactions.list({"payout": payout.id}, options).data
    assert [(t.type, t.amount) for t in in_payout] == [("payout", -4000)]
    assert [p.id for p in client.v1.payouts.list({"status": "paid"}, options).data] == [payout.id]


def test_scheduled_payout_sweeps_the_balance(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    seller = _seller(client, emulator)
    options: stripe.RequestOptions = {"stripe_account": seller}
    _charge(client, amount=3000, transfer_data={"destination": seller})
    _charge(client, amount=2000, transfer_data={"destination": seller})
    created = emulator.post("/_emulator/payouts/run", {"account": seller})["data"]
    assert [(p["amount"], p["automatic"]) for p in created] == [(5000, True)]
    payout_id = created[0]["id"]
    members = client.v1.balance_transactions.list({"payout": payout_id}, options).data
    assert sorted(t.amount for t in members) == [-5000, 2000, 3000]
    failed = emulator.post(f"/_emulator/payouts/{payout_id}/pay", {"outcome": "failed"})
    assert (failed["status"], failed["failure_code"]) == ("failed", "account_closed")
    assert client.v1.balance.retrieve(options=options).available[0].amount == 5000


def test_payouts_need_onboarding(client: stripe.StripeClient, emulator: Emulator) -> None:
    seller = _seller(client, emulator, onboard=False)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payouts.create({"amount": 100, "currency": "usd"}, {"stripe_account": seller})
    assert caught.value.code == "payouts_not_allowed"
