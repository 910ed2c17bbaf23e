"""The currencies Stripe charges in, with the rules Stripe applies to each amount.

One table, read by `money` (exponents), the command contract (limits) and fees. Exponents are
the ones Stripe's API uses, which differ from ISO 4217 in places: Stripe lists UGX as
zero-decimal, and keeps ISK (zero-decimal since 2023 in Stripe's own words) two-decimal in
the API for backwards compatibility, with amounts that must be whole krónur (a multiple of
100). HUF and TWD are charged with two decimals, but Stripe pays them out in whole units
(`payout_multiple`). Three-decimal currencies (BHD JOD KWD OMR TND) must have a last digit of
0 on card payments (`charge_multiple` 10). Sources: Stripe's "Supported currencies" page
(presentment list, zero- and three-decimal lists, special cases, minimum and maximum charge
amounts) and the API reference's `amount` ("supports up to eight digits").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SAFE_INTEGER = 2**53 - 1
"""JSON consumers that read numbers as doubles lose precision beyond this."""

EIGHT_DIGITS = 99_999_999


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


ZERO_DECIMAL = _codes("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf")
THREE_DECIMAL = _codes("bhd jod kwd omr tnd")
_TWO_DECIMAL = _codes(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bmd bnd bob brl bsd bwp
    byn bzd cad cdf chf cny cop crc cve czk dkk dop dzd egp etb eur fjd fkp gbp gel gip
    gmd gtq gyd hkd hnl htg huf idr ils inr isk jmd kes kgs khr kyd kzt lak lbp lkr lrd
    lsl mad mdl mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd pab pen
    pgk php pkr pln qar ron rsd rub sar sbd scr sek sgd shp sle sll sos srd std szl thb
    tjs top try ttd twd tzs uah uyu uzs wst xcd yer zar zmw
    """
)

# Stripe's minimum charge per settlement currency, in its minor units.
MINIMUM_CHARGE = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}  # fmt: skip

# Stripe's documented exception to "up to eight digits": IDR takes up to twelve.
MAXIMUM_CHARGE = {"idr": 999_999_999_999}

_CHARGE_MULTIPLE = {"isk": 100} | {code: 10 for code in THREE_DECIMAL}
_PAYOUT_MULTIPLE = {"huf": 100, "twd": 100, "isk": 100}

_CODE = re.compile(r"^[a-z]{3}$")


class CurrencyError(ValueError):
    """A code that is not a currency, or one Stripe does not charge in."""


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    exponent: int
    minimum: int | None
    """Stripe's minimum charge when this is the settlement currency; None where unpublished."""
    maximum: int
    charge_multiple: int = 1
    """Every amount charged (or refunded) must be a multiple of this many minor units."""
    payout_multiple: int = 1


def normalize(code: str) -> str:
    """Stripe spells currencies in lower case; accept either and keep one spelling."""
    lowered = code.strip().lower()
    if not _CODE.match(lowered):
        raise CurrencyError(f"not an ISO 4217 currency code: {code!r}")
    return lowered


def _build() -> dict[str, Currency]:
    table: dict[str, Currency] = {}
    for codes, digits in ((_TWO_DECIMAL, 2), (ZERO_DECIMAL, 0), (THREE_DECIMAL, 3)):
        for code in codes:
            table[code] = Currency(
                code=code,
                exponent=digits,
                minimum=MINIMUM_CHARGE.get(code),
                maximum=MAXIMUM_CHARGE.get(code, EIGHT_DIGITS),
                charge_multiple=_CHARGE_MULTIPLE.get(code, 1),
                payout_multiple=_PAYOUT_MULTIPLE.get(code, 1),
            )
    return table


CURRENCIES: dict[str, Currency] = _build()


def currency(code: str) -> Currency:
    """The currency's rules; a code Stripe does not charge in is a `CurrencyError`."""
    found = CURRENCIES.get(normalize(code))
    if found is None:
        raise CurrencyError(f"{code.strip().upper()} is not a currency Stripe charges in")
    return found


def is_supported(code: str) -> bool:
    try:
        currency(code)
    except CurrencyError:
        return False
    return True
