"""Typed domain errors: each has a machine `code` and the HTTP status an edge should answer.

The command handler turns any `DomainError` into a `CommandRejected` fact carrying `code`
and the message; the HTTP layer answers `{error: {code, message}}` with `http_status`.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the orders domain can give."""

    code = "domain_error"
    http_status = 422

    def __init__(self, message: str, *, order_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.order_id = order_id


class UnknownOrder(DomainError):
    code = "unknown_order"
    http_status = 404


class OrderAlreadyExists(DomainError):
    code = "order_exists"
    http_status = 409


class InvalidCommand(DomainError):
    code = "invalid_command"
    http_status = 422


class IllegalTransition(DomainError):
    """The command is valid but not in the order's current status."""

    code = "illegal_transition"
    http_status = 409

    def __init__(self, message: str, *, order_id: str | None = None, status: str = "") -> None:
        super().__init__(message, order_id=order_id)
        self.status = status


class PaymentNotCaptured(IllegalTransition):
    code = "payment_not_captured"


class CapturePending(IllegalTransition):
    code = "capture_pending"


class RefundExceedsCaptured(DomainError):
    code = "refund_exceeds_captured"
    http_status = 422


class NothingToRefund(DomainError):
    code = "nothing_to_refund"
    http_status = 409


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"
    http_status = 422


class InvalidStripeEvent(DomainError):
    """A Stripe event whose shape we cannot read; no retry will fix it (DLQ)."""

    code = "invalid_stripe_event"
    http_status = 422
