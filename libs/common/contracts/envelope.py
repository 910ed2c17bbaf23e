"""The envelope every message on every topic travels in.

A topic's module declares its message types as frozen pydantic models, each with a literal
`type` and a `schema_version`; the envelope carries the routing and tracing facts that do
not belong to any one message. Unknown fields from newer producers are ignored, so a
consumer can be upgraded after its producers.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class Message(BaseModel):
    """Base of every message payload: frozen, tolerant of fields it does not know."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = 1


P = TypeVar("P", bound=Message)


def new_message_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel, Generic[P]):
    """What goes on the wire: one message plus where it came from and what it belongs to."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    message_id: str = Field(default_factory=new_message_id)
    correlation_id: str | None = Field(
        default=None, description="the order id where known; ties everything about one order"
    )
    causation_id: str | None = Field(
        default=None, description="id of the message, event or request that caused this one"
    )
    occurred_at: datetime = Field(default_factory=utc_now)
    producer: str
    payload: P


class ContractError(ValueError):
    """A message that no retry can make valid; it belongs on the topic's DLQ."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Contract(Generic[P]):
    """Encoder and decoder of one topic's envelope, built from the topic's payload union."""

    def __init__(self, payload_type: Any) -> None:
        self._adapter: TypeAdapter[Envelope[Any]] = TypeAdapter(Envelope[payload_type])

    def encode(self, envelope: Envelope[Any]) -> bytes:
        return envelope.model_dump_json().encode()

    def decode(self, raw: bytes | None) -> Envelope[Any]:
        if raw is None:
            raise ContractError("empty message (tombstone) on a topic that carries envelopes")
        try:
            return self._adapter.validate_json(raw)
        except ValidationError as exc:
            raise ContractError(_summarize(exc)) from exc


def _summarize(exc: ValidationError) -> str:
    """A short, readable reason for the DLQ header (pydantic's full text is long)."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "message"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
