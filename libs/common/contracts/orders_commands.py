"""Contract of `orders.commands`: what the backend API asks the orders service to do.

Commands are imperative and may be refused: the orders service answers every command it
cannot carry out with a `CommandRejected` fact on `orders.events`, never with silence.
Amounts are integer minor units of the order's currency (floats are refused outright), and
the value objects shared with `orders.events` (`Actor`, `Buyer`, `LineItem`, `Shipping`)
live here so that the two topics spell them the same way.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from libs.common import currencies
from libs.common.contracts.envelope import Contract, Message, utc_now
from libs.common.contracts.limits import check_order_amounts
from libs.common.contracts.types import (
    ADDRESS_FIELDS_MAX,
    EMAIL_MAX,
    AddressKey,
    Id,
    MinorUnits,
    Quantity,
    ShortText,
    Text,
)
from libs.common.text import unstorable

__all__ = ["Id", "MinorUnits", "Quantity", "Text"]

ActorKind = Literal["buyer", "seller", "operator", "api", "stripe", "system"]
CaptureMethod = Literal["automatic", "manual"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ValueObject(BaseModel):
    """Frozen value object that ignores fields added by newer producers."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Actor(ValueObject):
    """Who made something happen: a person, our own API, or Stripe on its own."""

    kind: ActorKind
    id: Id | None = None


class Buyer(ValueObject):
    id: Id
    email: str
    name: Text = ""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if len(value) > EMAIL_MAX:
            raise ValueError(f"email is longer than Stripe's {EMAIL_MAX} characters")
        if unstorable(value) is not None or not _EMAIL.match(value):
            raise ValueError("not an email address")
        return value


class LineItem(ValueObject):
    """One line of an order; `tax_amount` is the tax of the whole line, not of one unit."""

    sku: Id
    description: Text = ""
    quantity: Quantity
    unit_amount: MinorUnits
    tax_amount: MinorUnits = 0
    seller_id: Id

    @property
    def subtotal(self) -> int:
        return self.unit_amount * self.quantity

    @property
    def total(self) -> int:
        return self.subtotal + self.tax_amount


class Shipping(ValueObject):
    """Shipping charged to the buyer; `seller_id` names the seller who ships, if only one does."""

    amount: MinorUnits
    tax_amount: MinorUnits = 0
    name: Text = ""
    carrier: Text = ""
    address: dict[AddressKey, ShortText] = Field(
        default_factory=dict, max_length=ADDRESS_FIELDS_MAX
    )
    seller_id: Id | None = None

    @property
    def total(self) -> int:
        return self.amount + self.tax_amount


class OrderCommandBase(Message):
    """Fields every order command has: its own id (for dedupe), the order, and who sent it."""

    type: str
    command_id: Id
    order_id: Id
    actor: Actor
    issued_at: datetime = Field(default_factory=utc_now)


class CreateOrder(OrderCommandBase):
    type: Literal["CreateOrder"] = "CreateOrder"
    buyer: Buyer
    currency: str
    items: tuple[LineItem, ...] = Field(min_length=1, max_length=500)
    shipping: Shipping | None = None
    capture_method: CaptureMethod = "automatic"

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return currencies.currency(value).code

    @model_validator(mode="after")
    def _chargeable(self) -> CreateOrder:
        check_order_amounts(self.currency, self.items, self.shipping)
        return self

    @property
    def total(self) -> int:
        shipping = self.shipping.total if self.shipping else 0
        return sum(item.total for item in self.items) + shipping


class MarkFulfilled(OrderCommandBase):
    type: Literal["MarkFulfilled"] = "MarkFulfilled"
    note: Text = ""


class CompleteOrder(OrderCommandBase):
    type: Literal["CompleteOrder"] = "CompleteOrder"


class CancelOrder(OrderCommandBase):
    type: Literal["CancelOrder"] = "CancelOrder"
    reason: Annotated[ShortText, StringConstraints(min_length=1)]


OrderCommand = Annotated[
    CreateOrder | MarkFulfilled | CompleteOrder | CancelOrder, Field(discriminator="type")
]

CONTRACT: Contract[OrderCommandBase] = Contract(OrderCommand)
