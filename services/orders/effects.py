"""Effects the domain asks for, carried out on Stripe: capture on fulfilment, cancel a
PaymentIntent or expire a Checkout Session that must no longer take money, refund money the
order must not keep, and fetch Stripe's actual processing fee once a charge is captured.

Each is safe to repeat: captures, cancels and refunds carry the idempotency key the domain
chose (expiring a session is idempotent by nature), and what comes back (a refused capture,
a fetched fee) becomes a fact the order applies at most once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import orjson
import stripe

from libs.common.contracts.envelope import Envelope
from libs.common.contracts.orders_commands import Actor
from libs.common.contracts.orders_events import (
    AuthorizationCancelRequested,
    CaptureFailed,
    CaptureRequested,
    Cause,
    CheckoutSessionExpireRequested,
    OrderFact,
    PaymentCaptured,
    PaymentObserved,
    PaymentRefreshRequested,
    RefundRequested,
)
from libs.common.kafka.consumer import PermanentError
from services.orders.adapters.stripe_gateway import PaymentsGateway
from services.orders.domain import aggregate
from services.orders.handlers import Processor

log = logging.getLogger(__name__)
_ACTED_ON = frozenset(
    {
        "CaptureRequested",
        "AuthorizationCancelRequested",
        "CheckoutSessionExpireRequested",
        "RefundRequested",
        "PaymentRefreshRequested",
        "PaymentCaptured",
    }
)


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
                await self._capture(fact)
            elif isinstance(fact, AuthorizationCancelRequested):
                await self._close(
                    fact, self._gateway.cancel(fact.payment_intent_id, fact.idempotency_key)
                )
            elif isinstance(fact, CheckoutSessionExpireRequested):
                await self._close(
                    fact, self._gateway.expire_checkout_session(fact.checkout_session_id)
                )
            elif isinstance(fact, RefundRequested):
                await self._gateway.refund(
                    fact.payment_intent_id,
                    fact.amount,
                    fact.idempotency_key,
                    {"order_id": fact.order_id, "reason": fact.reason},
                )
            elif isinstance(fact, PaymentRefreshRequested):
                await self._refresh(fact)
            elif isinstance(fact, PaymentCaptured) and fact.processing_fee is None:
                await self._record_fee(fact, envelope.causation_id or fact.cause.id)
        except stripe.InvalidRequestError as exc:
            # Stripe refused for good (a refund of more than is left, …): no retry helps.
            raise PermanentError(f"stripe refused {fact.type}: {exc.user_message or exc}") from exc

    async def _capture(self, fact: CaptureRequested) -> None:
        """A capture Stripe refuses becomes a `CaptureFailed` fact, so the order does not wait
        for it and the next fulfilment may try again."""
        try:
            await self._gateway.capture(fact.payment_intent_id, fact.amount, fact.idempotency_key)
        except (stripe.InvalidRequestError, stripe.CardError) as exc:
            log.warning("capture of %s refused: %s", fact.payment_intent_id, exc)
            failed = CaptureFailed(
                order_id=fact.order_id,
                cause=fact.cause,
                actor=Actor(kind="stripe"),
                occurred_at=datetime.now(UTC),
                payment_intent_id=fact.payment_intent_id,
                code=str(exc.code or "capture_refused"),
                message=str(exc.user_message or exc)[:2000],
            )
            await self._processor.send_fact(failed)

    async def _refresh(self, fact: PaymentRefreshRequested) -> None:
        """Read the PaymentIntent again and hand its current state to the order."""
        intent = await self._gateway.retrieve_payment_intent(fact.payment_intent_id)
        await self._processor.send_fact(observed(fact, intent))

    async def _close(self, fact: OrderFact, call: Awaitable[object]) -> None:
        """Cancel or expire an attempt; one that already ended (succeeded, canceled, expired)
        has nothing left to close — a success that raced the cancel is refunded instead."""
        try:
            await call
        except stripe.InvalidRequestError as exc:
            log.info("%s of order %s: nothing to close (%s)", fact.type, fact.order_id, exc)

    async def _record_fee(self, fact: PaymentCaptured, cause_id: str) -> None:
        if fact.charge_id is None:
            return
        cause = Cause(kind="stripe_event", id=cause_id)
        if not await self.record_fee(fact.order_id, fact.charge_id, cause):
            log.info("charge %s has no balance transaction yet; retried later", fact.charge_id)

    async def record_fee(self, order_id: str, charge_id: str, cause: Cause) -> bool:
        """Fetch the charge's fee and hand it to the order; False when Stripe has none yet."""
        transaction = await self._gateway.balance_transaction_of_charge(charge_id)
        if transaction is None:
            return False
        fact = aggregate.processing_fee_recorded(order_id, charge_id, transaction, cause)
        await self._processor.send_fact(fact)
        return True


def observed(fact: PaymentRefreshRequested, intent: dict[str, Any]) -> PaymentObserved:
    error = intent.get("last_payment_error") or {}
    charge = intent.get("latest_charge")
    return PaymentObserved(
        order_id=fact.order_id,
        cause=Cause(kind="api_request", id=f"refresh-{fact.cause.id}"),
        actor=Actor(kind="stripe"),
        occurred_at=datetime.now(UTC),
        currency=str(intent["currency"]),
        payment_intent_id=str(intent["id"]),
        status=str(intent["status"]),
        amount_received=int(intent.get("amount_received") or 0),
        amount_capturable=int(intent.get("amount_capturable") or 0),
        charge_id=charge.get("id") if isinstance(charge, dict) else charge,
        next_action=intent.get("next_action"),
        decline_code=error.get("decline_code") or error.get("code"),
        failure_message=str(error.get("message") or "")[:2000],
    )


class FeeRetry:
    """Fees Stripe could not give yet, asked for again with backoff until it can: each
    charge waits twice as long as before, up to an hour, between attempts. The list comes
    from the read model, so a restart forgets only the backoff, not the charges."""

    def __init__(self, effects: Effects, base_s: float = 5.0, cap_s: float = 3600.0) -> None:
        self._effects = effects
        self._base_s, self._cap_s = base_s, cap_s
        self._next: dict[str, tuple[int, float]] = {}

    async def run_once(self, missing: list[tuple[str, str]], now: float) -> int:
        """Try the charges in `missing` ((order id, charge id)) that are due; the number
        whose fee was found."""
        found = 0
        for order_id, charge_id in missing:
            attempts, due = self._next.get(charge_id, (0, now))
            if due > now:
                continue
            try:
                lookup = Cause(kind="api_request", id=f"fee-lookup-{charge_id}")
                ok = await self._effects.record_fee(order_id, charge_id, lookup)
            except stripe.StripeError as exc:
                log.warning("fee of charge %s not read: %s", charge_id, exc)
                ok = False
            if ok:
                self._next.pop(charge_id, None)
                found += 1
                continue
            wait = min(self._base_s * 2**attempts, self._cap_s)
            self._next[charge_id] = (attempts + 1, now + wait)
        return found
