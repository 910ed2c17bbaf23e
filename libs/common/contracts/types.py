"""Field types shared by the topic contracts.

Command fields are strict: what the worker could not store is refused where it enters, with a
reason. Fields that carry Stripe's text are cleaned instead (`StripeText`): Stripe's data is
what it is, and refusing it would lose a fact.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from libs.common.text import clean_text, unstorable


def _storable(value: str) -> str:
    problem = unstorable(value)
    if problem is not None:
        raise ValueError(f"text {problem}")
    return value


def _clean(value: object) -> object:
    return clean_text(value) if isinstance(value, str) else value


Id = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    AfterValidator(_storable),
]
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_storable)
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_storable)
]
AddressKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    AfterValidator(_storable),
]
StripeText = Annotated[str, BeforeValidator(_clean)]
"""Text from Stripe: NUL and unpaired surrogates become U+FFFD; never refused."""

MinorUnits = Annotated[int, Field(strict=True, ge=0, description="non-negative minor units")]
Quantity = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
EMAIL_MAX = 512
"""Stripe's limit on a customer's email."""
ADDRESS_FIELDS_MAX = 10
