"""Stripe's test cards and test payment methods, and what each does when charged."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SUCCEED = "succeed"
THREE_DS = "three_ds"
DECLINE = "decline"
DISPUTE = "dispute"


@dataclass(frozen=True)
class TestCard:
    behaviour: str = SUCCEED
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


_DECLINED = "Your card was declined."

CARDS: dict[str, TestCard] = {
    "4242424242424242": TestCard(),
    "4000056655665556": TestCard(),
    "5555555555554444": TestCard(),
    "4000000000000077": TestCard(),
    "4000002760003184": TestCard(THREE_DS),
    "4000002500003155": TestCard(THREE_DS),
    "4000000000003220": TestCard(THREE_DS),
    "4000000000000002": TestCard(DECLINE, "card_declined", "generic_decline", _DECLINED),
    "4000000000009995": TestCard(
        DECLINE, "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000000000009987": TestCard(DECLINE, "card_declined", "lost_card", _DECLINED),
    "4000000000009979": TestCard(DECLINE, "card_declined", "stolen_card", _DECLINED),
    "4000000000000069": TestCard(DECLINE, "expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": TestCard(
        DECLINE, "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."
    ),
    "4000000000000259": TestCard(DISPUTE),
}

MAGIC_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_bypassPending": "4000000000000077",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_createDispute": "4000000000000259",
}

TOKENS: dict[str, str] = {
    "tok_visa": "4242424242424242",
    "tok_visa_debit": "4000056655665556",
    "tok_mastercard": "5555555555554444",
    "tok_chargeDeclined": "4000000000000002",
    "tok_chargeDeclinedInsufficientFunds": "4000000000009995",
    "tok_threeDSecure2Required": "4000000000003220",
}


def behaviour_of(number: str) -> TestCard:
    return CARDS.get(number, TestCard())


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in ("34", "37"):
        return "amex"
    if number[:2] in ("51", "52", "53", "54", "55") or number[:1] == "2":
        return "mastercard"
    if number.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def fingerprint_of(number: str) -> str:
    return hashlib.sha256(number.encode()).hexdigest()[:16]


def card_details(number: str, exp_month: int, exp_year: int) -> dict[str, object]:
    """The public part of a card; the number itself never appears in an object."""
    brand = brand_of(number)
    return {
        "brand": brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": "US",
        "display_brand": brand,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": fingerprint_of(number),
        "funding": "debit" if number == "4000056655665556" else "credit",
        "last4": number[-4:],
        "networks": {"available": [brand], "preferred": None},
        "three_d_secure_usage": {"supported": True},
        "wallet": None,
    }
