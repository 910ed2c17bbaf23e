"""Idempotency keys for our Stripe calls: the domain's name for the shared derivation in
`libs.common.idempotency` (one rule, one place)."""

from __future__ import annotations

from libs.common.idempotency import PREFIX, idempotency_key, is_ours

__all__ = ["PREFIX", "idempotency_key", "is_ours"]
