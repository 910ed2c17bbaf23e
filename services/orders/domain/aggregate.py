"""The domain's entry points for the handlers: apply a command, a Stripe event or an API fact.

Each returns the new state and the facts to publish on `orders.events`, with
`from_status`/`to_status` filled in as the fact left the order. A duplicate gives no facts.
Two facts are derived here rather than stored: `OrderRefunded` when refunds reach the
captured amount, and the `OrderFulfilled` of a manually captured order once the capture it
asked for arrives (the fold itself moves such an order from created to fulfilled).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter

from libs.common.contracts.orders_commands import Actor, OrderCommandBase
from libs.common.contracts.orders_events import (
    Cause,
    CheckoutSessionCreated,
    OrderEvent,
    OrderFact,
    OrderFulfilled,
    OrderRefunded,
    PaymentIntentCreated,
    ProcessingFeeRecorded,
)
from libs.common.contracts.stripe_events import StripeEventReceived
from libs.common.fees import StripeFee
from services.orders.domain import identity
from services.orders.domain.decide import decide, rejected
from services.orders.domain.errors import DomainError, UnknownOrder
from services.orders.domain.evolve import NOT_STORED, evolve, fact_keys, fold, is_known, sort_key
from services.orders.domain.reactions import Policy, reactions
from services.orders.domain.state import Order
from services.orders.domain.stripe_facts import translate

Outcome = tuple[Order | None, list[OrderFact]]
DEFAULT_POLICY = Policy()


def handle_command(
    state: Order | None,
    command: OrderCommandBase,
    policy: Policy = DEFAULT_POLICY,
    accepted_at: datetime | None = None,
) -> Outcome:
    """Decide and apply a command; a refusal becomes a published `CommandRejected`.
    `accepted_at` (the worker's clock when it took the command) is kept on its facts beside
    the client's `issued_at`."""
    stamp = {"accepted_at": accepted_at} if accepted_at is not None else {}
    try:
        facts = decide(state, command)
    except DomainError as error:
        rejection = rejected(command, error, command.issued_at)
        update = {**stamp, "fact_id": identity.fact_id(rejection)}
        return state, [rejection.model_copy(update=update)]
    if not facts:
        return state, []
    return apply_facts(state, [f.model_copy(update=stamp) for f in facts], policy)


def handle_stripe_event(
    state: Order | None, received: StripeEventReceived, policy: Policy = DEFAULT_POLICY
) -> Outcome:
    """Apply a Stripe event at most once; raises `UnknownOrder` if the order is not known yet.

    `InvalidStripeEvent` (a `DomainError`) means the event cannot be read: send it to the DLQ.
    """
    facts = translate(received.event, order_id=received.order_id)
    if not facts:
        return state, []
    if state is None:
        raise UnknownOrder(f"order {facts[0].order_id} is not known", order_id=facts[0].order_id)
    if received.event_id in state.seen:
        return state, []
    return apply_facts(state, facts, policy)


def apply_facts(
    state: Order | None, facts: Iterable[OrderFact], policy: Policy = DEFAULT_POLICY
) -> Outcome:
    """Evolve through `facts` and what they call for (`reactions`); returns what to publish:
    each change once — a change already known, told again by another event, is left out."""
    published: list[OrderFact] = []
    queue = list(facts)
    while queue:
        fact = queue.pop(0)
        known = is_known(state, fact)
        after = evolve(state, fact)
        if known or (after is state and not isinstance(fact, NOT_STORED)):
            state = after
            continue
        before_status = state.status if state is not None else None
        update = {
            "from_status": before_status,
            "to_status": after.status,
            "fact_id": identity.fact_id(fact),
        }
        published.append(fact.model_copy(update=update))
        published.extend(
            n.model_copy(update={"fact_id": identity.fact_id(n)})
            for n in _notices(state, after, fact)
        )
        state = after
        if not isinstance(fact, NOT_STORED):
            queue.extend(reactions(after, policy))
    return state, published


def _notices(before: Order | None, after: Order, fact: OrderFact) -> list[OrderFact]:
    notices: list[OrderFact] = []
    pending = after.pending_fulfilment
    newly_fulfilled = before is not None and before.fulfilled_at is None
    by_capture = pending is not None and not isinstance(fact, OrderFulfilled)
    if newly_fulfilled and by_capture and after.fulfilled_at is not None:
        assert pending is not None
        notices.append(
            OrderFulfilled(
                order_id=after.order_id,
                cause=pending.cause,
                actor=pending.actor,
                occurred_at=after.fulfilled_at,
                from_status="paid",
                to_status=after.status,
            )
        )
    if before is not None and before.status != "refunded" and after.status == "refunded":
        notices.append(
            OrderRefunded(
                order_id=after.order_id,
                cause=fact.cause,
                actor=fact.actor,
                occurred_at=fact.occurred_at,
                currency=after.currency,
                refunded_total=after.payment.refunded,
                from_status=before.status,
                to_status="refunded",
            )
        )
    return notices


def _at(stripe_object: Mapping[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(stripe_object["created"]), UTC)


def payment_intent_created(
    order: Order, intent: Mapping[str, Any], request_id: str, actor: Actor
) -> PaymentIntentCreated:
    """The fact for `POST /orders/{id}/payment-intent`, timed by Stripe's clock like its events."""
    return PaymentIntentCreated(
        order_id=order.order_id,
        cause=Cause(kind="api_request", id=request_id),
        actor=actor,
        occurred_at=_at(intent),
        currency=str(intent["currency"]),
        payment_intent_id=str(intent["id"]),
        amount=int(intent["amount"]),
        capture_method="manual" if intent.get("capture_method") == "manual" else "automatic",
        customer_id=intent.get("customer"),
    )


def checkout_session_created(
    order: Order, session: Mapping[str, Any], request_id: str, actor: Actor
) -> CheckoutSessionCreated:
    """The fact for `POST /orders/{id}/checkout-session`."""
    intent = session.get("payment_intent")
    return CheckoutSessionCreated(
        order_id=order.order_id,
        cause=Cause(kind="api_request", id=request_id),
        actor=actor,
        occurred_at=_at(session),
        currency=str(session["currency"]),
        checkout_session_id=str(session["id"]),
        amount=int(session.get("amount_total") or order.total.amount),
        url=session.get("url"),
        payment_intent_id=intent if isinstance(intent, str) else None,
    )


def processing_fee_recorded(
    order_id: str, charge_id: str, transaction: Mapping[str, Any], cause: Cause
) -> ProcessingFeeRecorded:
    """Stripe's actual fee, in the currency Stripe reports it in, from the charge's balance
    transaction once it was fetched."""
    fee = StripeFee.of(transaction)
    return ProcessingFeeRecorded(
        order_id=order_id,
        cause=cause,
        actor=Actor(kind="stripe"),
        occurred_at=_at(transaction),
        currency=fee.currency,
        charge_id=charge_id,
        balance_transaction_id=fee.balance_transaction_id,
        fee=fee.amount,
        exchange_rate=fee.exchange_rate,
    )


class OrderSnapshot(BaseModel):
    """What a Faust table keeps per order: the facts; the state is re-folded on load."""

    order_id: str
    facts: list[OrderEvent]


_SNAPSHOT = TypeAdapter(OrderSnapshot)
_FACT: TypeAdapter[OrderFact] = TypeAdapter(OrderEvent)


def snapshot(state: Order) -> bytes:
    """`OrderSnapshot` of `state` as JSON."""
    return snapshot_json(state.order_id, [fact_json(fact) for fact in state.facts])


def restore(raw: bytes) -> Order:
    return from_facts(_SNAPSHOT.validate_json(raw).facts)


def from_facts(facts: Iterable[OrderFact]) -> Order:
    """The order defined by `facts`, in any order and with any repeats."""
    unique: dict[tuple[str, ...], OrderFact] = {}
    # The same change stored twice (under an older key format) is kept as the telling that
    # sorts first, as `evolve` keeps it.
    for fact in sorted(facts, key=sort_key):
        unique.setdefault(fact_keys(fact)[0], fact)
    return fold(list(unique.values()))


def from_facts_json(facts: Iterable[str | bytes]) -> Order:
    return from_facts(_FACT.validate_json(raw) for raw in facts)


def fact_json(fact: OrderFact) -> bytes:
    return _FACT.dump_json(fact)


def snapshot_json(order_id: str, facts: list[bytes]) -> bytes:
    """The snapshot of an order from its facts' JSON, in order."""
    head = b'{"order_id":' + orjson.dumps(order_id) + b',"facts":['
    return head + b",".join(facts) + b"]}"


class FactsJson:
    """`fact_json` of an order's facts for a worker that writes the same orders again and
    again: a fact is encoded once, and reused while its order is among the `size` most
    recently encoded, so that a change costs its new facts rather than the whole history."""

    def __init__(self, size: int = 20_000) -> None:
        self._known: OrderedDict[str, dict[int, tuple[OrderFact, bytes]]] = OrderedDict()
        self._size = size

    def encode(self, state: Order) -> list[bytes]:
        """JSON of each of `state.facts`, in order."""
        known = self._known.pop(state.order_id, {})
        encoded: dict[int, tuple[OrderFact, bytes]] = {}
        for fact in state.facts:
            # Keyed by identity, and the fact is kept with its bytes: an id is never reused
            # while the object it names is alive.
            hit = known.get(id(fact))
            encoded[id(fact)] = hit if hit is not None else (fact, fact_json(fact))
        self._known[state.order_id] = encoded
        if len(self._known) > self._size:
            self._known.popitem(last=False)
        return [raw for _, raw in encoded.values()]
