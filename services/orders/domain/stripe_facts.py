"""Pure translation of a Stripe event (Stripe's own JSON shape) into order facts.

One function per Stripe event type, registered in `HANDLERS` against Stripe's type string;
types not listed give no facts (acknowledged, never an error). Every fact carries the
event's `created` second as `occurred_at` (the sort key that makes the order independent of
delivery order), the event id as cause, and an actor: our API when the event's
`request.idempotency_key` is one of ours, Stripe itself when there was no request, else the
buyer (payment confirmations come from the browser) or an operator (dashboard actions).
Snapshots' cumulative figures (`amount_received`, `amount_captured`, `amount_refunded`)
are passed on as such; `evolve` keeps their maxima.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from libs.common.contracts.orders_commands import Actor
from libs.common.contracts.orders_events import (
    Cause,
    DisputeClosed,
    DisputeOpened,
    OrderFact,
    PaymentAuthorized,
    PaymentCanceled,
    PaymentCaptured,
    PaymentFailed,
    PaymentRequiresAuthentication,
    ProcessingFeeRecorded,
    RefundRecorded,
)
from libs.common.fees import StripeFee
from services.orders.domain.errors import InvalidStripeEvent
from services.orders.domain.idempotency import is_ours

Obj = Mapping[str, Any]
Base = dict[str, Any]
Translator = Callable[[Obj, Base], list[OrderFact]]

BUYER_DRIVEN = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.requires_action",
        "payment_intent.amount_capturable_updated",
        "checkout.session.completed",
        "charge.succeeded",
    }
)


def translate(event: Mapping[str, Any], *, order_id: str | None = None) -> list[OrderFact]:
    """The facts a Stripe event states about order `order_id` (else its metadata's)."""
    handler = HANDLERS.get(str(event.get("type", "")))
    if handler is None:
        return []
    try:
        obj: Obj = event["data"]["object"]
        order = order_id or (obj.get("metadata") or {}).get("order_id")
        if not order:
            return []
        base: Base = {
            "order_id": order,
            "cause": Cause(kind="stripe_event", id=event["id"]),
            "actor": actor_of(event),
            "occurred_at": datetime.fromtimestamp(int(event["created"]), UTC),
            "_previous": event["data"].get("previous_attributes") or {},
        }
        return handler(obj, base)
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise InvalidStripeEvent(f"unreadable {event.get('type')} event: {exc}") from exc


def actor_of(event: Mapping[str, Any]) -> Actor:
    request = event.get("request") or {}
    if isinstance(request, str):
        request = {"id": request}
    if not request.get("id"):
        return Actor(kind="stripe")
    if is_ours(request.get("idempotency_key")):
        return Actor(kind="api", id=request.get("id"))
    kind = "buyer" if event.get("type") in BUYER_DRIVEN else "operator"
    return Actor(kind=kind, id=request.get("id"))


def _id(value: Any) -> str | None:
    """An expandable field: the id whether Stripe sent the id or the expanded object."""
    if isinstance(value, Mapping):
        return str(value["id"])
    return str(value) if value else None


def latest_charge(pi: Obj) -> Any:
    """The PaymentIntent's newest charge in any API version: `latest_charge` since
    2022-11-15, the first of the `charges` list (newest first) before it."""
    if "latest_charge" in pi:
        return pi["latest_charge"]
    charges = (pi.get("charges") or {}).get("data") or []
    return charges[0] if charges else None


def _fee(charge: Any) -> StripeFee | None:
    """Stripe's fee, in its currency, when the charge's balance transaction came expanded."""
    if not isinstance(charge, Mapping):
        return None
    transaction = charge.get("balance_transaction")
    if isinstance(transaction, Mapping) and transaction.get("fee") is not None:
        return StripeFee.of(transaction)
    return None


def _fields(base: Base) -> Base:
    return {k: v for k, v in base.items() if not k.startswith("_")}


def _requires_action(pi: Obj, base: Base) -> list[OrderFact]:
    action = pi.get("next_action")
    return [
        PaymentRequiresAuthentication(
            **_fields(base),
            payment_intent_id=pi["id"],
            next_action=dict(action) if action else None,
        )
    ]


def _payment_failed(pi: Obj, base: Base) -> list[OrderFact]:
    error = pi.get("last_payment_error") or {}
    fact = PaymentFailed(
        **_fields(base),
        payment_intent_id=pi["id"],
        charge_id=_id(error.get("charge")),
        decline_code=error.get("decline_code"),
        failure_code=error.get("code"),
        message=str(error.get("message") or "")[:2000],
    )
    return [fact]


def _succeeded(pi: Obj, base: Base) -> list[OrderFact]:
    charge = latest_charge(pi)
    fact = PaymentCaptured(
        **_fields(base),
        currency=pi["currency"],
        payment_intent_id=pi["id"],
        charge_id=_id(charge),
        amount=int(pi.get("amount_received") or pi["amount"]),
        balance_transaction_id=_id(charge.get("balance_transaction"))
        if isinstance(charge, Mapping)
        else None,
    )
    return [fact, *_fee_recorded(charge, base)]


def _fee_recorded(charge: Any, base: Base) -> list[OrderFact]:
    """The fee as a fact of its own when the charge came with its balance transaction: a
    capture and the fee Stripe took for it are two changes, each told once."""
    fee = _fee(charge)
    if fee is None or not isinstance(charge, Mapping):
        return []
    fact = ProcessingFeeRecorded(
        **_fields(base),
        currency=fee.currency,
        charge_id=str(charge["id"]),
        balance_transaction_id=fee.balance_transaction_id,
        fee=fee.amount,
        exchange_rate=fee.exchange_rate,
    )
    return [fact]


def _capturable(pi: Obj, base: Base) -> list[OrderFact]:
    amount = int(pi.get("amount_capturable") or 0)
    if amount == 0:
        return []
    return [
        PaymentAuthorized(
            **_fields(base), currency=pi["currency"], payment_intent_id=pi["id"], amount=amount
        )
    ]


def _canceled(pi: Obj, base: Base) -> list[OrderFact]:
    reason = pi.get("cancellation_reason")
    return [
        PaymentCanceled(**_fields(base), payment_intent_id=pi["id"], cancellation_reason=reason)
    ]


def _session_completed(session: Obj, base: Base) -> list[OrderFact]:
    if session.get("payment_status") != "paid":
        return []
    intent = _id(session.get("payment_intent")) or str(session["id"])
    fact = PaymentCaptured(
        **_fields(base),
        currency=session["currency"],
        payment_intent_id=intent,
        amount=int(session["amount_total"]),
    )
    return [fact]


def _charge(charge: Obj, base: Base) -> list[OrderFact]:
    """charge.succeeded / charge.captured: captured money, or a hold for manual capture."""
    intent = _id(charge.get("payment_intent")) or str(charge["id"])
    if not charge.get("captured"):
        return [
            PaymentAuthorized(
                **_fields(base), currency=charge["currency"], payment_intent_id=intent,
                amount=int(charge["amount"]),
            )
        ]  # fmt: skip
    captured = charge.get("amount_captured")
    fact = PaymentCaptured(
        **_fields(base),
        currency=charge["currency"],
        payment_intent_id=intent,
        charge_id=str(charge["id"]),
        amount=int(captured if captured is not None else charge["amount"]),
        balance_transaction_id=_id(charge.get("balance_transaction")),
    )
    return [fact, *_fee_recorded(charge, base)]


def _refunded(charge: Obj, base: Base) -> list[OrderFact]:
    total = int(charge.get("amount_refunded") or 0)
    refunds = (charge.get("refunds") or {}).get("data") or []
    latest: Obj = refunds[0] if refunds else {}
    previous = base["_previous"].get("amount_refunded")
    amount = latest.get("amount", total - int(previous) if previous is not None else None)
    fact = RefundRecorded(
        **_fields(base),
        currency=charge["currency"],
        charge_id=str(charge["id"]),
        refund_id=latest.get("id"),
        amount=None if amount is None else int(amount),
        refunded_total=total,
        reason=latest.get("reason"),
    )
    return [fact]


def _dispute(dispute: Obj) -> Base:
    return {
        "currency": dispute["currency"],
        "dispute_id": str(dispute["id"]),
        "charge_id": _id(dispute.get("charge")),
        "amount": int(dispute["amount"]),
    }


def _dispute_created(dispute: Obj, base: Base) -> list[OrderFact]:
    fact = DisputeOpened(
        **_fields(base),
        **_dispute(dispute),
        reason=dispute.get("reason"),
        status=dispute.get("status"),
    )
    return [fact]


def _dispute_closed(dispute: Obj, base: Base) -> list[OrderFact]:
    status = str(dispute.get("status") or "")
    outcome = "lost" if status == "lost" else "won"
    return [DisputeClosed(**_fields(base), **_dispute(dispute), status=status, outcome=outcome)]


HANDLERS: dict[str, Translator] = {
    "payment_intent.requires_action": _requires_action,
    "payment_intent.payment_failed": _payment_failed,
    "payment_intent.succeeded": _succeeded,
    "payment_intent.amount_capturable_updated": _capturable,
    "payment_intent.canceled": _canceled,
    "checkout.session.completed": _session_completed,
    "charge.succeeded": _charge,
    "charge.captured": _charge,
    "charge.refunded": _refunded,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
}
