"""One live payment per order: what the HTTP API checks before starting a payment attempt.

An order may have at most one payment attempt (a PaymentIntent or a Checkout Session) that
can still succeed. Before a new one is started, every earlier attempt is read from Stripe,
the source of truth, and:

- if one may already be moving money (a PaymentIntent `processing`, `requires_capture` or
  `succeeded`; a `complete` session), nothing is created: `409 payment_in_progress`;
- if one of the same kind is still open, it is the answer (a repeat gets the same attempt);
- any other open one is canceled at Stripe first (PaymentIntent cancel, session expire),
  and then the new attempt is created with the next attempt number.

The attempts are found in the order's facts, in the map of Stripe objects the API writes
before telling the worker (so a fact the worker has not folded yet is not missed), and in
Stripe's own search by our metadata (so one whose creation we never recorded is not missed).
A per-order advisory lock keeps two requests for one order from racing through this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import asyncpg
import stripe

from libs.common.contracts.orders_events import CheckoutSessionCreated, PaymentIntentCreated
from libs.common.idempotency import idempotency_key
from services.orders.adapters.stripe_gateway import PaymentsGateway, StripeDict, attempt_of
from services.orders.domain.state import Order

Kind = Literal["payment_intent", "checkout_session"]
_OPEN = {"requires_payment_method", "requires_confirmation", "requires_action", "open"}
_OVER = {"canceled", "expired"}


class PaymentInProgress(Exception):
    """An earlier attempt may already be moving money; `attempt_id` names it."""

    def __init__(self, attempt_id: str, status: str) -> None:
        super().__init__(f"payment attempt {attempt_id} is {status}; it cannot be replaced")
        self.attempt_id, self.status = attempt_id, status


@dataclass(frozen=True)
class Attempt:
    kind: Kind
    obj: StripeDict

    @property
    def id(self) -> str:
        return str(self.obj["id"])

    @property
    def status(self) -> str:
        return str(self.obj.get("status"))

    @property
    def number(self) -> int:
        return attempt_of(self.obj)


@asynccontextmanager
async def exclusive(pool: asyncpg.Pool, order_id: str) -> AsyncIterator[asyncpg.Connection]:
    """Hold the order's payment lock (a transaction-scoped advisory lock) meanwhile; use the
    connection it yields, so that a request never waits for a second one while holding it."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('orders-pay:' || $1))", order_id)
        yield conn


async def remember(conn: asyncpg.Connection, object_id: str, order_id: str) -> None:
    """Map a new attempt to its order (what `of_order` reads, and the worker's object map)."""
    await conn.execute(
        "INSERT INTO orders_payment_objects (object_id, order_id) VALUES ($1, $2) "
        "ON CONFLICT (object_id) DO NOTHING",
        object_id,
        order_id,
    )


def recorded_ids(order: Order) -> set[str]:
    """The attempts the order's facts know of."""
    ids: set[str] = set()
    for fact in order.facts:
        if isinstance(fact, PaymentIntentCreated):
            ids.add(fact.payment_intent_id)
        elif isinstance(fact, CheckoutSessionCreated):
            ids.add(fact.checkout_session_id)
    return ids


async def of_order(
    conn: asyncpg.Connection, gateway: PaymentsGateway, order: Order
) -> list[Attempt]:
    """Every attempt of the order, as Stripe sees it now."""
    mapped = await conn.fetch(
        "SELECT object_id FROM orders_payment_objects WHERE order_id = $1", order.order_id
    )
    ids = recorded_ids(order) | {str(row["object_id"]) for row in mapped}
    found = {str(i["id"]): i for i in await gateway.find_payment_intents(order.order_id)}
    attempts = [Attempt("payment_intent", obj) for obj in found.values()]
    for object_id in sorted(ids - found.keys()):
        if object_id.startswith("cs_"):
            session = await gateway.retrieve_checkout_session(object_id)
            attempts.append(Attempt("checkout_session", session))
        elif object_id.startswith("pi_"):
            intent = await gateway.retrieve_payment_intent(object_id)
            attempts.append(Attempt("payment_intent", intent))
    return attempts


def next_number(attempts: list[Attempt]) -> int:
    return max((a.number for a in attempts), default=0) + 1


async def make_room(
    gateway: PaymentsGateway, order_id: str, attempts: list[Attempt], kind: Kind
) -> Attempt | None:
    """Apply the policy; the open attempt of `kind` to answer with, or None to create one."""
    for attempt in attempts:
        if attempt.status not in _OPEN | _OVER:
            raise PaymentInProgress(attempt.id, attempt.status)
    live = [a for a in attempts if a.status in _OPEN]
    keep = max((a for a in live if a.kind == kind), key=lambda a: a.number, default=None)
    # Sessions first: expiring one also ends the PaymentIntent Checkout may have made for it.
    for attempt in sorted(live, key=lambda a: a.kind != "checkout_session"):
        if attempt is not keep:
            await _end(gateway, order_id, attempt)
    return keep


async def _end(gateway: PaymentsGateway, order_id: str, attempt: Attempt) -> None:
    try:
        if attempt.kind == "checkout_session":
            await gateway.expire_checkout_session(attempt.id)
        else:
            key = idempotency_key(order_id, "cancel-attempt", attempt.id)
            await gateway.cancel(attempt.id, key)
    except stripe.InvalidRequestError:
        # It moved on since we read it: if it ended anyway, fine; else money may be moving.
        now = await _reread(gateway, attempt)
        if now.status not in _OVER:
            raise PaymentInProgress(now.id, now.status) from None


async def _reread(gateway: PaymentsGateway, attempt: Attempt) -> Attempt:
    if attempt.kind == "checkout_session":
        return Attempt(attempt.kind, await gateway.retrieve_checkout_session(attempt.id))
    return Attempt(attempt.kind, await gateway.retrieve_payment_intent(attempt.id))
