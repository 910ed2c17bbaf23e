"""Idempotency keys for every call we make to Stripe, derived from what the call is about.

The same operation on the same order (and leg: attempt number, PaymentIntent, refund number)
always gets the same key, so a retried call after a crash or a redelivered message replays
Stripe's first answer instead of moving money twice. Every key starts with our prefix, so a
Stripe event whose `request.idempotency_key` carries it was caused by us, not by someone in
the dashboard.

Stripe accepts keys of at most 255 characters, and a key travels in an HTTP header. A key is
readable (`orders:o_1:capture:pi_9`) when every part is made of plain characters and the whole
fits; otherwise it is the prefix, a readable head, `~` and a SHA-256 of all the parts: still
deterministic, still ours, and two different calls never share a key (readable keys hold no
`~`, so the two forms cannot meet).
"""

from __future__ import annotations

import hashlib
import json
import re

PREFIX = "orders:"
LEGACY_PREFIXES = ("order-",)
"""Keys of the form `order-{id}-{operation}` sent before this module existed."""
MAX_LENGTH = 255

_PLAIN = re.compile(r"[A-Za-z0-9_.\-]+")
_DIGEST_LENGTH = 64


def idempotency_key(order_id: str, operation: str, *parts: str) -> str:
    """The key of `operation` on `order_id`; `parts` name the leg (e.g. an attempt number)."""
    components = (order_id, operation, *parts)
    readable = PREFIX + ":".join(components)
    if len(readable) <= MAX_LENGTH and all(_PLAIN.fullmatch(c) for c in components):
        return readable
    digest = hashlib.sha256(json.dumps(components).encode()).hexdigest()
    head = re.sub(r"[^A-Za-z0-9_.\-:]", "_", ":".join(components))
    room = MAX_LENGTH - len(PREFIX) - 1 - _DIGEST_LENGTH
    return f"{PREFIX}{head[:room]}~{digest}"


def is_ours(key: str | None) -> bool:
    return bool(key) and str(key).startswith((PREFIX, *LEGACY_PREFIXES))
