"""Integer money arithmetic for the emulator's fees (minor units only, never floats)."""

from __future__ import annotations

ZERO_DECIMAL = frozenset(
    {
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
        "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    }
)  # fmt: skip

CARD_FEE_PER_MILLE = 29
CARD_FIXED_FEE = 30
DISPUTE_FEE = 1500
ZERO_DECIMAL_DISPUTE_FEE = 2000


def round_half_up_div(numerator: int, denominator: int) -> int:
    """Integer division rounding halves away from zero, for non-negative numerators."""
    return (2 * numerator + denominator) // (2 * denominator)


def card_fee(amount: int, currency: str) -> int:
    """Stripe-like card pricing: 2.9% + 30 minor units.

    Zero-decimal currencies (jpy, krw, ...) pay the percentage only: a fixed "30" would mean
    30 yen rather than 30 cents, so no fixed part is added there.
    """
    percent = round_half_up_div(amount * CARD_FEE_PER_MILLE, 1000)
    fixed = 0 if currency.lower() in ZERO_DECIMAL else CARD_FIXED_FEE
    return percent + fixed


def dispute_fee(currency: str) -> int:
    return ZERO_DECIMAL_DISPUTE_FEE if currency.lower() in ZERO_DECIMAL else DISPUTE_FEE
