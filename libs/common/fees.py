"""Fee rules shared by every service that states a fee: orders, payouts, receipts.

A rate is `bps` basis points of a base, rounded half up to a whole minor unit (`div_round`),
plus `fixed` minor units, then held within `[minimum, maximum]`. A rate listed under a
currency is in that currency's minor units. The `default` rate is written in hundredths of
a major unit (cents) and scaled to each currency's exponent, so "30" is 0.30 USD, 0.300 KWD
and nothing in JPY or KRW (0.30 yen rounds to 0) instead of 30 yen or 0.030 KWD.

`StripeFee` is Stripe's actual fee as a balance transaction reports it: in the transaction's
currency, which is the account's settlement currency and can differ from the charge's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.common.money import div_round, exponent, normalize_currency

Units = Annotated[int, Field(strict=True, ge=0)]
DEFAULT_EXPONENT = 2
"""The exponent the `default` rate's amounts are written in."""


class Rate(BaseModel):
    model_config = ConfigDict(frozen=True)

    bps: Annotated[int, Field(strict=True, ge=0, le=10_000)] = 0
    fixed: Units = 0
    minimum: Units = 0
    maximum: Units | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Rate:
        if self.maximum is not None and self.maximum < self.minimum:
            raise ValueError("maximum is below minimum")
        return self

    def fee(self, base: int) -> int:
        """bps of `base` rounded half up, plus the fixed part, held within [minimum, maximum]."""
        amount = div_round(base * self.bps, 10_000, "half_up") + self.fixed
        amount = max(amount, self.minimum)
        return amount if self.maximum is None else min(amount, self.maximum)

    def scaled(self, digits: int) -> Rate:
        """This rate's fixed amounts, written with `DEFAULT_EXPONENT`, in a `digits` currency."""

        def scale(value: int) -> int:
            shift = digits - DEFAULT_EXPONENT
            return value * 10**shift if shift >= 0 else div_round(value, 10**-shift)

        maximum = None if self.maximum is None else scale(self.maximum)
        return Rate(
            bps=self.bps, fixed=scale(self.fixed), minimum=scale(self.minimum), maximum=maximum
        )


RefundedFee = Literal["kept", "returned"]


class FeePolicy(BaseModel):
    """Settings-driven fee rules; keys of the rate tables are currencies or `default`.

    `marketplace_fee_on_refund`: "kept" (Stripe's own default for application fees) or
    "returned" in proportion to what was refunded.
    """

    model_config = ConfigDict(frozen=True)

    marketplace: dict[str, Rate] = Field(default_factory=lambda: {"default": Rate(bps=1000)})
    processing: dict[str, Rate] = Field(
        default_factory=lambda: {"default": Rate(bps=290, fixed=30), "jpy": Rate(bps=360)}
    )
    processing_fee_bearer: Literal["platform", "seller"] = "platform"
    marketplace_fee_on_refund: RefundedFee = "kept"

    def marketplace_rate(self, currency: str) -> Rate:
        return rate_for(self.marketplace, currency)

    def processing_rate(self, currency: str) -> Rate:
        return rate_for(self.processing, currency)


def rate_for(table: Mapping[str, Rate], currency: str) -> Rate:
    """The currency's own rate, else the default scaled to its exponent, else nothing."""
    code = normalize_currency(currency)
    own = table.get(code) or table.get(code.upper())
    if own is not None:
        return own
    default = table.get("default")
    return Rate() if default is None else default.scaled(exponent(code))


def decimal_text(value: Any) -> str | None:
    """A decimal (Stripe's `exchange_rate`) as exact text, never a float.

    The SDK and JSON decoders hand Stripe's JSON number over as a float. `repr` of a float is
    the shortest text that reads back as the same float, so for a rate Stripe wrote with up
    to 15 significant digits it is exactly Stripe's text; that conversion is done once, here.
    """
    if value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    return str(Decimal(str(value)).normalize())


@dataclass(frozen=True, slots=True)
class StripeFee:
    """Stripe's fee from a balance transaction, in the currency Stripe reports it in."""

    amount: int
    currency: str
    exchange_rate: str | None
    balance_transaction_id: str

    @classmethod
    def of(cls, transaction: Mapping[str, Any]) -> StripeFee:
        return cls(
            amount=int(transaction["fee"]),
            currency=normalize_currency(str(transaction["currency"])),
            exchange_rate=decimal_text(transaction.get("exchange_rate")),
            balance_transaction_id=str(transaction["id"]),
        )
