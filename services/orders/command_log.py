"""What became of each command: applied (and which facts it made) or rejected (and why), kept in
PostgreSQL by command id, with a fingerprint of its body.

The fingerprint is how a command id used again with another body is told apart from the same
command delivered again: the first is refused as `command_conflict`, the second changes
nothing. It is a SHA-256 of the payload in canonical JSON, `issued_at` left out: a backend that
rebuilds the same command to send it again stamps a new time on it, and that is still the same
command. The outcomes are what `GET /commands/{command_id}` serves.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from libs.common.contracts.orders_events import CommandRejected, OrderFact

log = logging.getLogger(__name__)

SCHEMA = """CREATE TABLE orders_commands (
    command_id text PRIMARY KEY,
    order_id text NOT NULL,
    fingerprint text NOT NULL,
    status text NOT NULL,
    code text,
    reason text,
    facts text NOT NULL DEFAULT '',
    accepted_at timestamptz NOT NULL DEFAULT now())"""


@dataclass(frozen=True)
class CommandRow:
    command_id: str
    order_id: str
    fingerprint: str
    status: str  # "applied" | "rejected"
    code: str | None = None
    reason: str | None = None
    facts: tuple[str, ...] = ()


def row(order_id: str, command_id: str, digest: str, facts: list[OrderFact]) -> CommandRow:
    """The outcome the facts a command caused say: a `CommandRejected`, or what it applied."""
    rejected = next((f for f in facts if isinstance(f, CommandRejected)), None)
    if rejected is not None:
        return CommandRow(command_id, order_id, digest, "rejected", rejected.code, rejected.reason)
    return CommandRow(command_id, order_id, digest, "applied", facts=tuple(f.type for f in facts))


def fingerprint(payload: Mapping[str, Any]) -> str:
    body = {k: v for k, v in payload.items() if k != "issued_at"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def command_ids(raws: Iterable[bytes | None]) -> list[str]:
    """The command ids that can be read from raw command records (the rest have none)."""
    ids: list[str] = []
    for raw in raws:
        try:
            value = orjson.loads(raw or b"")["payload"]["command_id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if isinstance(value, str):
            ids.append(value.strip())
    return ids


async def known(pool: asyncpg.Pool, ids: list[str]) -> dict[str, str]:
    """Fingerprints of the commands among `ids` decided before. A read the worker cannot do
    without, so PostgreSQL being away is waited out, not skipped."""
    if not ids:
        return {}
    delay = 0.1
    while True:
        try:
            rows = await pool.fetch(
                "SELECT command_id, fingerprint FROM orders_commands "
                "WHERE command_id = ANY($1::text[])",
                ids,
            )
            return {row["command_id"]: row["fingerprint"] for row in rows}
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            log.warning("command fingerprints not read (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def columns(rows: list[CommandRow]) -> list[list[Any]]:
    """The rows as the arrays `postgres.save_changes` inserts."""
    return [
        [r.command_id for r in rows],
        [r.order_id for r in rows],
        [r.fingerprint for r in rows],
        [r.status for r in rows],
        [r.code for r in rows],
        [r.reason for r in rows],
        [",".join(r.facts) for r in rows],
    ]


async def outcome(pool: asyncpg.Pool, command_id: str) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        "SELECT command_id, order_id, status, code, reason, facts, accepted_at "
        "FROM orders_commands WHERE command_id = $1",
        command_id,
    )
    if row is None:
        return None
    return {
        "command_id": row["command_id"],
        "order_id": row["order_id"],
        "status": row["status"],
        "code": row["code"],
        "reason": row["reason"],
        "facts": [kind for kind in str(row["facts"]).split(",") if kind],
        "accepted_at": row["accepted_at"].isoformat(),
    }
