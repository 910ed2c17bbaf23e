"""The JSON the UI reads: an order, its timeline, its fee breakdown. Amounts are always
`{"amount": <minor units>, "currency": "usd"}`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from libs.common.contracts.orders_events import PaymentAuthorized
from libs.common.money import Money
from services.orders.domain.state import Order
from services.orders.domain.timeline import timeline
from services.orders.fees import FeePolicy, for_order


def _money(money: Money) -> dict[str, Any]:
    return {"amount": money.amount, "currency": money.currency}


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _authorized_at(order: Order) -> datetime | None:
    times = [f.occurred_at for f in order.facts if isinstance(f, PaymentAuthorized)]
    return max(times) if times else None


def order_body(order: Order) -> dict[str, Any]:
    payment = order.payment
    fee = payment.processing_fee
    return {
        "order_id": order.order_id,
        "status": order.status,
        "buyer": order.buyer.model_dump(),
        "currency": order.currency,
        "capture_method": order.capture_method,
        "items": [item.model_dump() for item in order.items],
        "shipping": order.shipping.model_dump() if order.shipping else None,
        "total": _money(order.total),
        "payment": {
            "status": payment.status,
            "payment_intent_id": payment.payment_intent_id,
            "checkout_session_id": payment.checkout_session_id,
            "charge_id": payment.charge_id,
            "next_action": dict(payment.next_action) if payment.next_action else None,
            "decline_code": payment.decline_code,
            "failure_message": payment.failure_message,
            "failures": payment.failures,
            "authorized_at": _at(_authorized_at(order)),
            "captured": _money(order.captured),
            "refunded": _money(order.refunded),
            "processing_fee": (
                _money(Money(fee, payment.fee_currency or order.currency))
                if fee is not None
                else None
            ),
            "exchange_rate": payment.exchange_rate,
        },
        "dispute": (
            {
                "dispute_id": order.dispute.dispute_id,
                "amount": _money(order.money(order.dispute.amount)),
                "reason": order.dispute.reason,
                "outcome": order.dispute.outcome,
            }
            if order.dispute
            else None
        ),
        "created_at": _at(order.created_at),
        "fulfilled_at": _at(order.fulfilled_at),
        "completed_at": _at(order.completed_at),
        "canceled_at": _at(order.canceled_at),
        "cancel_reason": order.cancel_reason or None,
    }


def timeline_body(order: Order) -> list[dict[str, Any]]:
    return [entry.model_dump(mode="json") for entry in timeline(order)]


def order_json(order: Order) -> str:
    """`order_body` as JSON text, for the read model."""
    return orjson.dumps(order_body(order)).decode()


def fees_body(order: Order, policy: FeePolicy) -> dict[str, Any]:
    return for_order(order, policy).model_dump(mode="json")
