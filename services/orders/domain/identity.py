"""What makes two facts the same fact: the object they are about and the change they record.

Stripe tells one change several times: a capture arrives as `payment_intent.succeeded`,
`charge.succeeded` and, for Checkout, `checkout.session.completed`, each with its own event
id. A fact's identity is therefore built from what it records (the PaymentIntent and the
amount captured on it, the charge and its fee, the refund), not from the event that told
us, so the second and third telling dedupe against the first. Facts that are decisions of
ours (a command's transition, a capture we ask for) are identified by the command or request
that decided them: two commands are two decisions.

The id published with a fact (`fact_id`, also the envelope's `message_id`) is a UUID derived
from the order and the identity, so a replay after a crash, or the same change told by
another event, publishes the same id and consumers drop the copy.
"""

from __future__ import annotations

import uuid

from libs.common.contracts import orders_events as ev

FACT_IDS = uuid.UUID("5f0c1d9e-6a43-4f0e-9a57-2b1f0c8d7e11")

Identity = tuple[str, ...]

_FIELDS: dict[type[ev.OrderFact], tuple[str, ...]] = {
    ev.OrderCreated: (),
    ev.OrderRefunded: (),
    ev.PaymentIntentCreated: ("payment_intent_id",),
    ev.CheckoutSessionCreated: ("checkout_session_id",),
    ev.PaymentAuthorized: ("payment_intent_id", "amount"),
    ev.PaymentCaptured: ("payment_intent_id", "amount"),
    ev.PaymentFailed: ("payment_intent_id", "charge_id"),
    ev.PaymentCanceled: ("payment_intent_id",),
    ev.ProcessingFeeRecorded: ("charge_id",),
    ev.RefundRecorded: ("charge_id", "refund_id"),
    ev.DisputeOpened: ("dispute_id",),
    ev.DisputeClosed: ("dispute_id",),
    ev.AuthorizationCancelRequested: ("payment_intent_id",),
    ev.CheckoutSessionExpireRequested: ("checkout_session_id",),
    ev.RefundRequested: ("payment_intent_id",),
    ev.PaymentAmountMismatch: ("payment_intent_id", "kind"),
    ev.PaymentRefreshRequested: ("payment_intent_id", "second"),
    ev.ReceiptIssued: ("receipt_id",),
    ev.TransferMade: ("transfer_id",),
    ev.CommandRejected: ("command_id",),
}
"""Types identified by what they record; any other fact is identified by its cause."""


def identity(fact: ev.OrderFact) -> Identity:
    fields = _FIELDS.get(type(fact))
    if fields is None:
        return (type(fact).__name__, fact.cause.kind, fact.cause.id)
    return (type(fact).__name__, *(_part(fact, name) for name in fields))


def _part(fact: ev.OrderFact, name: str) -> str:
    value = getattr(fact, name)
    if value is not None:
        return str(value)
    # A decline Stripe reports without its charge is told once per event; a refund
    # snapshot without the refund's id is known by the charge's cumulative total.
    if isinstance(fact, ev.RefundRecorded):
        return f"total:{fact.refunded_total}"
    return f"{fact.cause.kind}:{fact.cause.id}"


def fact_key(fact: ev.OrderFact) -> str:
    """The identity as one string (`orders_facts.fact_key`)."""
    return "|".join(identity(fact))


def fact_id(fact: ev.OrderFact) -> str:
    return str(uuid.uuid5(FACT_IDS, f"{fact.order_id}|{fact_key(fact)}"))
