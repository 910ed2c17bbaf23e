"""The `stripe.events` record of one event, written as JSON bytes without a model in between.

The envelope is `libs.common.contracts.stripe_events.StripeEventReceived` in its `Envelope`,
field for field; consumers decode it with that contract. Building it through pydantic would
validate the whole event dict and serialise it again, which cost more than everything else
ingest does per event. The raw body Stripe signed *is* the event's JSON, already checked to be
one UTF-8 JSON object (`api.parse_event`), so it is embedded verbatim: what consumers read is
exactly what Stripe sent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from services.ingest.routing import Route

Endpoint = Literal["platform", "connect", "backfill"]
PRODUCER = "ingest"
MESSAGE_TYPE = "StripeEventReceived"
SCHEMA_VERSION = 1


class _Entropy:
    """os.urandom, drawn 4 KiB at a time: a system call per 256 ids instead of per id."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0
        # A forked child must not hand out the ids its parent holds too.
        os.register_at_fork(after_in_child=self.discard)

    def discard(self) -> None:
        self._pool, self._at = b"", 0

    def take16(self) -> bytes:
        if self._at + 16 > len(self._pool):
            self._pool, self._at = os.urandom(4096), 0
        self._at += 16
        return self._pool[self._at - 16 : self._at]


_ENTROPY = _Entropy()


def new_message_id() -> str:
    """A random (version 4) UUID as text, the same as `str(uuid.uuid4())` at a fraction of the
    cost: building the UUID object in between, and a system call per id, are what cost."""
    digits = _ENTROPY.take16().hex()
    variant = "89ab"[int(digits[16], 16) & 3]  # RFC 4122: the top bits of the 17th digit are 10
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:]}"


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def encode(
    event: Mapping[str, Any],
    raw_event: bytes,
    endpoint: Endpoint,
    route: Route,
    received_at: datetime | None = None,
) -> bytes:
    """The envelope of `event` as JSON bytes; `raw_event` is `event` as JSON (the signed body,
    or `orjson.dumps(event)` for events that came from the API)."""
    now = received_at or datetime.now(UTC)
    payload = {
        "schema_version": SCHEMA_VERSION,
        "type": MESSAGE_TYPE,
        "event_id": event["id"],
        "event_type": event["type"],
        "api_version": _str_or_none(event.get("api_version")),
        "livemode": bool(event.get("livemode")),
        "created": event["created"],
        "account": _str_or_none(event.get("account")),
        "endpoint": endpoint,
        "received_at": now,
        "object_id": route.object_id,
        "order_id": route.order_id,
    }
    envelope = {
        "message_id": new_message_id(),
        "correlation_id": route.order_id,
        "causation_id": event["id"],
        "occurred_at": now,
        "producer": PRODUCER,
        "payload": payload,
    }
    head = orjson.dumps(envelope, option=orjson.OPT_UTC_Z)
    # `head` ends with the two closing braces of payload and envelope: the event goes before.
    return b"".join((head[:-2], b',"event":', raw_event, b"}}"))
