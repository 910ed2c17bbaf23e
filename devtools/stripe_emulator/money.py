"""Stripe-like pricing for the emulator's balance transactions, in integer minor units.

The currency exponents and the rounding are the project's own (`libs.common.money`), so the
emulator and the services can never disagree about what a minor unit is.
"""

from __future__ import annotations

from libs.common.money import MoneyError, div_round, exponent

CARD_FEE_PER_MILLE = 29
CARD_FIXED_FEE = 30
DISPUTE_FEE = 1500
ZERO_DECIMAL_DISPUTE_FEE = 2000


def round_half_up_div(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero."""
    return div_round(numerator, denominator, "half_up")


def is_zero_decimal(currency: str) -> bool:
    """True for jpy, krw, …; False also for a code that is no currency (validated elsewhere)."""
    try:
        return exponent(currency) == 0
    except MoneyError:
        return False


def card_fee(amount: int, currency: str) -> int:
    """Stripe-like card pricing: 2.9% + 30 minor units.

    Zero-decimal currencies (jpy, krw, ...) pay the percentage only: a fixed "30" would mean
    30 yen rather than 30 cents, so no fixed part is added there.
    """
    percent = round_half_up_div(amount * CARD_FEE_PER_MILLE, 1000)
    fixed = 0 if is_zero_decimal(currency) else CARD_FIXED_FEE
    return percent + fixed


def dispute_fee(currency: str) -> int:
    return ZERO_DECIMAL_DISPUTE_FEE if is_zero_decimal(currency) else DISPUTE_FEE
