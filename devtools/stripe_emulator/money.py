"""Stripe-like pricing for the emulator's balance transactions, in integer minor units.

The currency exponents and the rounding are the project's own (`libs.common.money`), so the
emulator and the services can never disagree about what a minor unit is.
"""

from __future__ import annotations

from libs.common.money import MoneyError, div_round, exponent

CARD_FEE_BPS = 290
CARD_FEE_BPS_BY_CURRENCY = {"jpy": 360}
"""Stripe's published card rate where it differs from 2.9 %: Japan's 3.6 %, no fixed part."""
CARD_FIXED_FEE = 30
"""In cents; scaled to the currency's exponent: 0.30 of a major unit, nothing in JPY or KRW."""
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
    """Stripe-like card pricing: 2.9 % (3.6 % in JPY) + 0.30 of the currency's major unit.

    The fixed part follows the exponent: 30 cents, 300 fils (0.300 KWD), and none in
    zero-decimal currencies (0.30 yen rounds to nothing).
    """
    bps = CARD_FEE_BPS_BY_CURRENCY.get(currency.lower(), CARD_FEE_BPS)
    percent = round_half_up_div(amount * bps, 10_000)
    return percent + _fixed_fee(currency)


def _fixed_fee(currency: str) -> int:
    try:
        shift = exponent(currency) - 2
    except MoneyError:
        shift = 0
    if shift >= 0:
        return CARD_FIXED_FEE * 10**shift
    return round_half_up_div(CARD_FIXED_FEE, 10**-shift)


def dispute_fee(currency: str) -> int:
    return ZERO_DECIMAL_DISPUTE_FEE if is_zero_decimal(currency) else DISPUTE_FEE
