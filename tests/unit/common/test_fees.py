"""Shared fee rules: the default rate scales with the exponent; Stripe's fee as reported."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.common.fees import FeePolicy, Rate, StripeFee, decimal_text


@pytest.mark.parametrize(
    ("currency", "base", "fee"),
    [("usd", 1000, 59), ("eur", 1000, 59), ("jpy", 1000, 36), ("krw", 10000, 290),
     ("kwd", 1500, 344), ("clp", 1000, 29)],
)  # fmt: skip
def test_default_policy_is_sensible_in_every_exponent(currency: str, base: int, fee: int) -> None:
    # 2.9 % + 0.30 of a major unit: 300 fils in KWD, nothing in KRW or CLP; JPY has its own 3.6 %
    assert FeePolicy().processing_rate(currency).fee(base) == fee


def test_a_currency_rate_is_taken_as_written() -> None:
    policy = FeePolicy(processing={"default": Rate(bps=100, fixed=30), "kwd": Rate(fixed=30)})
    assert policy.processing_rate("kwd").fee(1000) == 30
    assert policy.processing_rate("bhd").fee(1000) == 10 + 300


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from([0, 2, 3]))
def test_scaling_keeps_minimum_below_maximum(fixed: int, spread: int, digits: int) -> None:
    rate = Rate(fixed=fixed, minimum=fixed, maximum=fixed + spread).scaled(digits)
    assert rate.maximum is not None and rate.minimum <= rate.maximum


def test_exchange_rate_is_exact_text() -> None:
    assert decimal_text(0.912345) == "0.912345"
    assert decimal_text("1.0850") == "1.085"
    assert decimal_text(None) is None


def test_stripe_fee_keeps_the_transaction_currency() -> None:
    fee = StripeFee.of({"id": "txn_1", "fee": 123, "currency": "USD", "exchange_rate": 1.08532})
    assert (fee.amount, fee.currency, fee.exchange_rate) == (123, "usd", "1.08532")
