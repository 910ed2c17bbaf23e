"""What the worker checks of a command before the domain sees it, and the answer it gives.

Every command that names an order is answered: one the domain never sees is refused here
with a `CommandRejected` (code and reason) on `orders.events`, keyed by the order it names.
A command that fails the schema is answered too, as far as its order id and command id can
be read from the raw JSON (and the record also goes to the DLQ, for inspection).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from libs.common.contracts.orders_commands import Actor, OrderCommandBase
from libs.common.contracts.orders_events import Cause, CommandRejected

SUPPORTED_SCHEMA_VERSIONS = frozenset({1})
ID_MAX = 255


@dataclass(frozen=True)
class CommandLimits:
    max_future_s: float = 300.0
    max_age_s: float = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Refusal:
    order_id: str
    command_id: str
    command_type: str
    code: str
    reason: str


def conflict(command: OrderCommandBase) -> Refusal:
    """`command` reuses the id of an earlier command with another body."""
    return Refusal(
        command.order_id,
        command.command_id,
        command.type,
        "command_conflict",
        f"command_id {command.command_id} was used before with another body; "
        "a new command needs a new id",
    )


def refusal(
    command: OrderCommandBase, key: bytes | None, now: datetime, limits: CommandLimits
) -> Refusal | None:
    """Why `command` (a record keyed `key`) may not reach the domain; None when it may."""

    def refused(code: str, reason: str) -> Refusal:
        return Refusal(command.order_id, command.command_id, command.type, code, reason)

    if command.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        return refused(
            "unsupported_schema_version",
            f"schema_version {command.schema_version} is not supported "
            f"(supported: {sorted(SUPPORTED_SCHEMA_VERSIONS)})",
        )
    if key is None or key != command.order_id.encode():
        return refused("key_mismatch", "the record's key must be the order id")
    if command.issued_at > now + timedelta(seconds=limits.max_future_s):
        return refused(
            "command_from_future",
            f"issued_at is more than {limits.max_future_s:.0f}s after the worker's clock",
        )
    if command.issued_at < now - timedelta(seconds=limits.max_age_s):
        return refused(
            "command_too_old", f"issued_at is more than {limits.max_age_s:.0f}s in the past"
        )
    return None


def readable_refusal(raw: bytes | None, reason: str) -> Refusal | None:
    """The refusal of a command that failed the schema, if its ids can be read at all."""
    try:
        payload = json.loads(raw or b"")["payload"]
        order_id, command_id = payload["order_id"], payload["command_id"]
    except (ValueError, TypeError, KeyError):
        return None
    if not (_usable_id(order_id) and _usable_id(command_id)):
        return None
    kind = payload.get("type")
    command_type = kind if _usable_id(kind) else "unknown"
    return Refusal(order_id.strip(), command_id.strip(), command_type, "invalid_command", reason)


def rejection(refused: Refusal, now: datetime, actor: Any = None) -> CommandRejected:
    return CommandRejected(
        order_id=refused.order_id,
        cause=Cause(kind="command", id=refused.command_id),
        actor=actor or Actor(kind="system", id="orders-worker"),
        occurred_at=now,
        command_id=refused.command_id,
        command_type=refused.command_type,
        code=refused.code,
        reason=refused.reason[:2000],
    )


def _usable_id(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip() or len(value) > ID_MAX:
        return False
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:  # an unpaired surrogate
        return False
    return True
