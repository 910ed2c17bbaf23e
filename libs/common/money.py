"""Money as integer minor units plus an ISO 4217 currency.

No float ever holds an amount: arithmetic stays in integers, and the only place a fraction
appears is `Money.from_decimal`, which takes a `Decimal` or a string and refuses anything
that does not fit the currency's exponent exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.common import currencies

RoundingMode = Literal["half_up", "half_even", "down", "up"]


class MoneyError(ValueError):
    """An amount or currency that cannot be money (mixed currencies, bad code, lost cents)."""


def normalize_currency(code: str) -> str:
    """Stripe spells currencies in lower case; accept either and keep one spelling."""
    try:
        return currencies.normalize(code)
    except currencies.CurrencyError as exc:
        raise MoneyError(str(exc)) from exc


def exponent(currency: str) -> int:
    """Digits after the decimal point in the currency's minor unit, as Stripe's API counts them."""
    try:
        return currencies.currency(currency).exponent
    except currencies.CurrencyError as exc:
        raise MoneyError(str(exc)) from exc


def div_round(numerator: int, denominator: int, mode: RoundingMode = "half_up") -> int:
    """Integer division with an explicit rounding rule; the basis of all fee arithmetic.

    `half_up` rounds halves away from zero (what card networks and Stripe do for fees),
    `half_even` is banker's rounding, `down` and `up` truncate towards / away from zero.
    """
    if denominator <= 0:
        raise MoneyError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    if r == 0:
        return sign * q
    if mode == "down":
        return sign * q
    if mode == "up":
        return sign * (q + 1)
    twice = 2 * r
    if twice > denominator or (twice == denominator and (mode == "half_up" or q % 2 == 1)):
        q += 1
    return sign * q


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (cents, yen, fils) of one currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise MoneyError(f"amount must be an integer of minor units, got {self.amount!r}")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value: Decimal | str, currency: str) -> Money:
        """Parse a major-unit amount ("12.34" USD -> 1234); refuses sub-minor-unit digits."""
        if isinstance(value, float):
            raise MoneyError("floats cannot hold money; pass a string or a Decimal")
        try:
            major = Decimal(value)
        except InvalidOperation as exc:
            raise MoneyError(f"not a decimal amount: {value!r}") from exc
        scaled = major.scaleb(exponent(currency))
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"{value} has more digits than {currency.upper()} allows")
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-exponent(self.currency))

    def format(self) -> str:
        """Plain display form, e.g. `12.34 USD`, `1200 JPY`, `1.500 KWD`."""
        places = exponent(self.currency)
        quantum = Decimal(1).scaleb(-places)
        return f"{self.to_decimal().quantize(quantum)} {self.currency.upper()}"

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise MoneyError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def times(self, quantity: int) -> Money:
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise MoneyError("quantity must be an integer")
        return Money(self.amount * quantity, self.currency)

    def basis_points(self, bps: int, mode: RoundingMode = "half_up") -> Money:
        """`bps`/10,000 of this amount, rounded to a whole minor unit by `mode`."""
        return Money(div_round(self.amount * bps, 10_000, mode), self.currency)

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split into parts proportional to `weights` that add up exactly (largest remainder).

        A negative amount is split as its positive counterpart, with every part negated.
        """
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise MoneyError("weights must be non-negative and not all zero")
        if self.amount < 0:
            # Mirror the positive split, so that a refund or reversal splits as its charge did.
            return [-part for part in (-self).allocate(weights)]
        total = sum(weights)
        shares = [self.amount * w // total for w in weights]
        remainders = [(self.amount * w % total, -i) for i, w in enumerate(weights)]
        leftover = self.amount - sum(shares)
        for _, neg_index in sorted(remainders, reverse=True)[:leftover]:
            shares[-neg_index] += 1
        return [Money(s, self.currency) for s in shares]

    @property
    def is_zero(self) -> bool:
        return self.amount == 0


MinorUnits = Annotated[int, Field(strict=True, ge=0, description="non-negative minor units")]


class MoneyModel(BaseModel):
    """Money on the wire: `{"amount": 1234, "currency": "usd"}`; amounts are integers only."""

    model_config = ConfigDict(frozen=True)

    amount: Annotated[int, Field(strict=True)]
    currency: str

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("amount must be integer minor units, never a float")
        return value

    def money(self) -> Money:
        return Money(self.amount, self.currency)

    @classmethod
    def of(cls, money: Money) -> MoneyModel:
        return cls(amount=money.amount, currency=money.currency)
