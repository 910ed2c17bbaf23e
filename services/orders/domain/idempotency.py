"""Idempotency keys for our Stripe calls, derived from the order and the operation.

The same operation on the same order always gets the same key, so a retried call (after a
crash or a redelivered message) cannot move money twice; and because every key we send has
our prefix, a Stripe event whose `request.idempotency_key` carries it was caused by our API,
not by someone in the Stripe dashboard.
"""

from __future__ import annotations

PREFIX = "orders:"
ACCEPTED = (PREFIX, "order-")
"""Prefixes of keys we send; `order-` is the form `order-{id}-{operation}` also in use."""


def idempotency_key(order_id: str, operation: str, *parts: str) -> str:
    """E.g. `orders:o_1:capture:pi_9`; stable for one operation on one order."""
    return ":".join((f"{PREFIX}{order_id}", operation, *parts))


def is_ours(key: str | None) -> bool:
    return bool(key) and str(key).startswith(ACCEPTED)
