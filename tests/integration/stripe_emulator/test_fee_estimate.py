"""The orders' processing-fee estimate (default policy) equals the fee the emulator books."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from libs.common.contracts.orders_commands import LineItem
from libs.common.fees import FeePolicy, StripeFee
from services.orders.fees import compute


@pytest.mark.parametrize(
    ("currency", "amount", "expected_fee"),
    [
        ("usd", 2000, 88),  # 2.9 % of 20.00 = 0.58, + 0.30
        ("eur", 1999, 88),  # 57.97 cents rounds to 58, + 30
        ("jpy", 5000, 180),  # 3.6 %, no fixed part
        ("krw", 50000, 1450),  # 2.9 %, no fixed part
        ("kwd", 10000, 590),  # 2.9 % of 10.000 KWD = 290 fils, + 300 fils
    ],
)
def test_estimate_agrees_with_the_emulator(
    client: stripe.StripeClient, currency: str, amount: int, expected_fee: int
) -> None:
    # given a card payment confirmed at once over the SDK
    params: dict[str, Any] = {
        "amount": amount, "currency": currency, "payment_method": "pm_card_visa",
        "confirm": True, "expand": ["latest_charge.balance_transaction"],
    }  # fmt: skip
    intent = client.v1.payment_intents.create(params)  # type: ignore[arg-type]
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    transaction = charge.balance_transaction
    assert isinstance(transaction, stripe.BalanceTransaction)
    # when the orders estimate the fee of an order of the same total
    items = [LineItem(sku="a", quantity=1, unit_amount=amount, seller_id="s1")]
    estimate = compute(currency, items, None, FeePolicy())
    # then both say the same, in the same currency
    reported = StripeFee.of(transaction.to_dict())
    assert (reported.amount, reported.currency) == (expected_fee, currency)
    assert (estimate.processing_fee.amount, estimate.processing_fee.currency) == (
        reported.amount,
        reported.currency,
    )
    assert reported.exchange_rate is None
