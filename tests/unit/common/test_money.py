"""Money: exponents, parsing, rounding rules and allocation, with property tests."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from libs.common.money import Money, MoneyError, MoneyModel, div_round, exponent


@pytest.mark.parametrize(
    ("currency", "digits"),
    [("usd", 2), ("EUR", 2), ("jpy", 0), ("krw", 0), ("kwd", 3), ("bhd", 3), ("gbp", 2)],
)
def test_exponents(currency: str, digits: int) -> None:
    assert exponent(currency) == digits


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("12.34", "usd", 1234), ("1200", "jpy", 1200), ("1.500", "kwd", 1500), ("0.01", "eur", 1)],
)
def test_from_decimal(text: str, currency: str, minor: int) -> None:
    assert Money.from_decimal(text, currency) == Money(minor, currency)


def test_sub_minor_digits_refused() -> None:
    with pytest.raises(MoneyError):
        Money.from_decimal("12.345", "usd")
    with pytest.raises(MoneyError):
        Money.from_decimal("1.5", "jpy")


def test_floats_refused_everywhere() -> None:
    with pytest.raises(MoneyError):
        Money(12.5, "usd")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money.from_decimal(12.5, "usd")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        MoneyModel(amount=12.0, currency="usd")  # type: ignore[arg-type]


def test_currency_mismatch_refused() -> None:
    with pytest.raises(MoneyError):
        _ = Money(1, "usd") + Money(1, "eur")
    with pytest.raises(MoneyError):
        Money(1, "usdx")


def test_format() -> None:
    assert Money(1234, "usd").format() == "12.34 USD"
    assert Money(1200, "jpy").format() == "1200 JPY"
    assert Money(1500, "kwd").format() == "1.500 KWD"


@pytest.mark.parametrize(
    ("num", "den", "mode", "expected"),
    [
        (5, 2, "half_up", 3),
        (-5, 2, "half_up", -3),
        (5, 2, "half_even", 2),
        (7, 2, "half_even", 4),
        (9, 4, "down", 2),
        (9, 4, "up", 3),
        (8, 4, "up", 2),
    ],
)
def test_div_round(num: int, den: int, mode: str, expected: int) -> None:
    assert div_round(num, den, mode) == expected  # type: ignore[arg-type]


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_div_round_is_within_one_of_exact(num: int, den: int) -> None:
    exact = Decimal(num) / Decimal(den)
    for mode in ("half_up", "half_even", "down", "up"):
        assert abs(Decimal(div_round(num, den, mode)) - exact) < 1  # type: ignore[arg-type]


@given(st.integers(0, 10**12), st.integers(0, 10_000))
def test_basis_points_half_up(amount: int, bps: int) -> None:
    fee = Money(amount, "usd").basis_points(bps)
    exact = Decimal(amount * bps) / 10_000
    assert abs(Decimal(fee.amount) - exact) <= Decimal("0.5")


WEIGHTS = st.lists(st.integers(0, 1000), min_size=1, max_size=8).filter(lambda w: sum(w) > 0)


@given(st.integers(-(10**12), 10**12), WEIGHTS, st.sampled_from(["usd", "jpy", "kwd"]))
def test_allocate_adds_up_and_is_fair(amount: int, weights: list[int], currency: str) -> None:
    parts = Money(amount, currency).allocate(weights)
    assert sum(p.amount for p in parts) == amount
    total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert part.amount >= 0 if amount >= 0 else part.amount <= 0
        assert abs(part.amount * total - amount * weight) < total
        if weight == 0:
            assert part.amount == 0


@given(st.integers(-(10**15), 10**15), st.sampled_from(["usd", "jpy", "kwd"]))
def test_decimal_round_trip(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.from_decimal(money.to_decimal(), currency) == money


@given(st.integers(-(10**12), 10**12), WEIGHTS)
def test_allocate_of_a_negative_amount_mirrors_the_positive_one(
    amount: int, weights: list[int]
) -> None:
    positive = Money(amount, "usd").allocate(weights)
    assert Money(-amount, "usd").allocate(weights) == [-p for p in positive]


def test_allocate_negative_example() -> None:
    # given -100 split three ways: -34, -33, -33 (not -33, -33, -34 as floor division gives)
    assert [p.amount for p in Money(-100, "usd").allocate([1, 1, 1])] == [-34, -33, -33]


def test_unknown_currency_is_a_clear_error() -> None:
    with pytest.raises(MoneyError, match="XYZ is not a currency Stripe charges in"):
        exponent("xyz")
    with pytest.raises(MoneyError, match="not an ISO 4217 currency code"):
        exponent("us")
