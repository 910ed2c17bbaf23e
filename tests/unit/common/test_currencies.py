"""The currency table: Stripe's exponents, limits and special cases."""

from __future__ import annotations

import pytest

from libs.common.currencies import (
    CURRENCIES,
    EIGHT_DIGITS,
    MAX_SAFE_INTEGER,
    CurrencyError,
    currency,
    is_supported,
)


@pytest.mark.parametrize(
    ("code", "digits"),
    [("usd", 2), ("jpy", 0), ("krw", 0), ("ugx", 0), ("kwd", 3), ("tnd", 3), ("isk", 2),
     ("huf", 2), ("twd", 2), ("idr", 2)],
)  # fmt: skip
def test_exponents_as_stripe_uses_them(code: str, digits: int) -> None:
    assert currency(code).exponent == digits


def test_special_cases() -> None:
    assert currency("isk").charge_multiple == 100
    assert currency("kwd").charge_multiple == 10 and currency("bhd").charge_multiple == 10
    assert currency("huf").payout_multiple == 100 and currency("twd").payout_multiple == 100
    assert currency("usd").charge_multiple == 1


def test_limits() -> None:
    assert (currency("usd").minimum, currency("usd").maximum) == (50, EIGHT_DIGITS)
    assert currency("jpy").minimum == 50 and currency("huf").minimum == 17500
    assert currency("kwd").minimum is None
    assert currency("idr").maximum == 999_999_999_999
    assert all(c.maximum <= MAX_SAFE_INTEGER for c in CURRENCIES.values())
    assert len(CURRENCIES) > 130


def test_unknown_and_malformed_codes() -> None:
    assert currency("USD").code == "usd" and is_supported(" Eur ")
    assert not is_supported("xyz") and not is_supported("dollars")
    with pytest.raises(CurrencyError, match="XYZ is not a currency Stripe charges in"):
        currency("xyz")
    with pytest.raises(CurrencyError, match="not an ISO 4217"):
        currency("u$d")
