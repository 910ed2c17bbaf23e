"""Contract of `orders.inbox`: the orders service's own input beside commands and Stripe events.

Two kinds of record, both keyed by the order id so that they reach the worker that owns the
order: facts from the orders HTTP API and effect handlers (a PaymentIntent created, the
actual processing fee fetched), and Stripe events that arrived keyed by a Stripe object id
and were re-keyed once the order they belong to was known.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from libs.common.contracts.envelope import Contract, Message
from libs.common.contracts.orders_events import OrderEvent
from libs.common.contracts.stripe_events import StripeEventReceived

InboxMessage = Annotated[StripeEventReceived | OrderEvent, Field(discriminator="type")]

CONTRACT: Contract[Message] = Contract(InboxMessage)
