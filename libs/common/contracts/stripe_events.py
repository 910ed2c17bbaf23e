"""Contract of `stripe.events`: a verified Stripe event as ingest received it.

The Stripe event itself is kept whole (`event`), in Stripe's own JSON shape, so that no
consumer ever needs to ask Stripe again for what the webhook already said.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from libs.common.contracts.envelope import Contract, Message


class StripeEventReceived(Message):
    type: Literal["StripeEventReceived"] = "StripeEventReceived"
    schema_version: int = 1
    event_id: str
    event_type: str
    api_version: str | None = None
    livemode: bool = False
    created: int
    account: str | None = None
    endpoint: Literal["platform", "connect", "backfill"]
    received_at: datetime
    object_id: str | None = None
    order_id: str | None = None
    event: dict[str, Any]


CONTRACT: Contract[StripeEventReceived] = Contract(StripeEventReceived)
