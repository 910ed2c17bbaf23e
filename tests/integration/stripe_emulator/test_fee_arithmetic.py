"""The emulator's fee arithmetic: integers only, 2.9 % rounded half up, plus the fixed part."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from devtools.stripe_emulator.money import card_fee, round_half_up_div


@given(st.integers(min_value=0, max_value=10**12))
def test_card_fee_matches_decimal_half_up(amount: int) -> None:
    def percent(rate: str) -> int:
        exact = Decimal(amount) * Decimal(rate)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    assert card_fee(amount, "usd") == percent("0.029") + 30
    assert card_fee(amount, "krw") == percent("0.029")
    assert card_fee(amount, "jpy") == percent("0.036")
    assert card_fee(amount, "kwd") == percent("0.029") + 300


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=10**6))
def test_round_half_up_division(numerator: int, denominator: int) -> None:
    exact = (Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert round_half_up_div(numerator, denominator) == int(exact)
