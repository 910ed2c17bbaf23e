"""The partition key of a Stripe event on `stripe.events`: the order id wherever it is known.

Everything about one order must land on one partition, in order, so the key is, first found:

1. `metadata.order_id` of the event's object;
2. `metadata.order_id` of its PaymentIntent or charge, when Stripe expanded them in the object;
3. the order id *learned* from an earlier event about the same PaymentIntent, charge or
   checkout session (see below);
4. otherwise the Stripe object id (the event id if the object has none).

Learning rule: whenever an event's order id is known (by 1-3), the ids of the object itself and
of the PaymentIntent, charge and checkout session it refers to are recorded against that order
id (only those three kinds, the ones an order owns). A dispute or a refund carries no metadata
but names its charge and PaymentIntent; once `payment_intent.created` (with metadata) or a
`checkout.session.completed` taught us those ids, the dispute is keyed by the order too. The
rule is transitive: a charge keyed through its PaymentIntent teaches its own id, so a later
dispute that names only the charge still finds the order. A mapping is written once and never
changed: an id belongs to one order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

StripeObject = Mapping[str, Any]

ORDER_ID_FIELD = "order_id"
# PaymentIntent, charge (card and other methods), checkout session.
LEARNABLE_PREFIXES = ("pi_", "ch_", "py_", "cs_")
_REFERENCES = ("payment_intent", "charge", "latest_charge")


@dataclass(frozen=True, slots=True)
class Route:
    key: str
    order_id: str | None
    object_id: str | None


def _is_object(value: Any) -> TypeGuard[StripeObject]:
    # Parsed JSON is made of dicts: the exact check first, the ABC's (slow) only for the rest.
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


def event_object(event: StripeObject) -> StripeObject:
    data = event.get("data")
    obj = data.get("object") if _is_object(data) else None
    return obj if _is_object(obj) else {}


def _id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if _is_object(value):
        return _id_of(value.get("id"))
    return None


def metadata_order_id(obj: StripeObject) -> str | None:
    metadata = obj.get("metadata")
    if not _is_object(metadata):
        return None
    value = metadata.get(ORDER_ID_FIELD)
    return value if isinstance(value, str) and value else None


def carried_order_id(obj: StripeObject) -> str | None:
    """Rules 1 and 2: the order id the object carries itself or in an expanded reference."""
    own = metadata_order_id(obj)
    if own:
        return own
    for field in _REFERENCES:
        ref = obj.get(field)
        if _is_object(ref) and (found := metadata_order_id(ref)):
            return found
    return None


def related_ids(obj: StripeObject) -> tuple[str, ...]:
    """The object's id, then the PaymentIntent and charges it names (expanded or not), in the
    order rule 3 looks them up; duplicates removed."""
    found: list[str] = []
    candidates = [obj.get("id")]
    for field in _REFERENCES:
        ref = obj.get(field)
        candidates.append(ref)
        if _is_object(ref):
            candidates.extend(ref.get(f) for f in _REFERENCES)
    for candidate in candidates:
        ident = _id_of(candidate)
        if ident and ident not in found:
            found.append(ident)
    return tuple(found)


def _learnable(ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(i for i in ids if i.startswith(LEARNABLE_PREFIXES))


@dataclass(frozen=True, slots=True)
class Subject:
    """What routing reads of one event, read once: the object's id, the order id it carries
    (rules 1-2), the ids rule 3 looks up, in order, and those of them an order can own (the
    only ones ever learned, so the only ones worth looking up)."""

    event_id: str
    object_id: str | None
    carried: str | None
    related: tuple[str, ...]
    learnable: tuple[str, ...]

    def route(self, learned: Mapping[str, str]) -> Route:
        """Apply rules 1-4; `learned` maps ids (from `related`) to the order ids we know."""
        order_id = self.carried
        if order_id is None:
            order_id = next((learned[i] for i in self.related if i in learned), None)
        key = order_id or self.object_id or self.event_id
        return Route(key=key, order_id=order_id, object_id=self.object_id)


def subject(event: StripeObject) -> Subject:
    obj = event_object(event)
    related = related_ids(obj)
    return Subject(
        event_id=str(event.get("id") or ""),
        object_id=_id_of(obj.get("id")),
        carried=carried_order_id(obj),
        related=related,
        learnable=_learnable(related),
    )


def route(event: StripeObject, learned: Mapping[str, str]) -> Route:
    """Apply rules 1-4; `learned` maps ids (from `related_ids`) to the order ids we know."""
    return subject(event).route(learned)
