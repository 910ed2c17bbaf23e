"""Effects the domain asks for, carried out on Stripe: capture on fulfilment, cancel an
authorization, and fetch Stripe's actual processing fee once a charge is captured.

Each is safe to repeat: captures and cancels carry the idempotency key the domain chose,
and a fetched fee becomes a fact the order applies at most once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson
import stripe

from libs.common.contracts.envelope import Envelope
from libs.common.contracts.orders_commands import Actor
from libs.common.contracts.orders_events import (
    AuthorizationCancelRequested,
    CaptureRequested,
    Cause,
    PaymentCaptured,
    ProcessingFeeRecorded,
)
from libs.common.fees import StripeFee
from libs.common.kafka.consumer import PermanentError
from services.orders.adapters.stripe_gateway import PaymentsGateway
from services.orders.handlers import Processor

log = logging.getLogger(__name__)
_ACTED_ON = frozenset({"CaptureRequested", "AuthorizationCancelRequested", "PaymentCaptured"})


def may_act_on(raw: bytes | None) -> bool:
    """Whether the fact in `raw` may ask for an effect. Most facts do not, and this look at
    the type costs a fraction of decoding them; what cannot be read is left to the decoder."""
    try:
        kind = orjson.loads(raw or b"")["payload"]["type"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return True
    return kind in _ACTED_ON


class Effects:
    def __init__(self, gateway: PaymentsGateway, processor: Processor) -> None:
        self._gateway = gateway
        self._processor = processor

    async def carry_out(self, envelope: Envelope[Any]) -> None:
        fact = envelope.payload
        try:
            if isinstance(fact, CaptureRequested):
                await self._gateway.capture(
                    fact.payment_intent_id, fact.amount, fact.idempotency_key
                )
            elif isinstance(fact, AuthorizationCancelRequested):
                await self._gateway.cancel(fact.payment_intent_id, fact.idempotency_key)
            elif isinstance(fact, PaymentCaptured) and fact.processing_fee is None:
                await self._record_fee(fact, envelope.causation_id or fact.cause.id)
        except stripe.InvalidRequestError as exc:
            # Stripe refused for good (already captured, canceled, expired): no retry helps.
            raise PermanentError(f"stripe refused {fact.type}: {exc.user_message or exc}") from exc

    async def _record_fee(self, fact: PaymentCaptured, cause_id: str) -> None:
        if fact.charge_id is None:
            return
        transaction = await self._gateway.balance_transaction_of_charge(fact.charge_id)
        if transaction is None:
            log.warning("charge %s has no balance transaction yet", fact.charge_id)
            return
        reported = StripeFee.of(transaction)
        await self._processor.send_fact(
            ProcessingFeeRecorded(
                order_id=fact.order_id,
                cause=Cause(kind="stripe_event", id=cause_id),
                actor=Actor(kind="stripe"),
                occurred_at=datetime.fromtimestamp(int(transaction["created"]), UTC),
                currency=reported.currency,
                charge_id=fact.charge_id,
                balance_transaction_id=reported.balance_transaction_id,
                fee=reported.amount,
                exchange_rate=reported.exchange_rate,
            )
        )
