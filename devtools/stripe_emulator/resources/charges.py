"""Charges: retrieve, update, list, search (created by PaymentIntents only)."""

from __future__ import annotations

from devtools.stripe_emulator.context import ApiCall, Route, StripeObject
from devtools.stripe_emulator.events import changed, emit
from devtools.stripe_emulator.forms import get_str, merge_metadata
from devtools.stripe_emulator.pagination import filter_equal, filter_range, list_object
from devtools.stripe_emulator.search import search_object


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get("charge", call.path_id(), call.account)


def update(call: ApiCall) -> StripeObject:
    charge = retrieve(call)
    updates: StripeObject = {}
    if "metadata" in call.params:
        updates["metadata"] = merge_metadata(charge["metadata"], call.params)
    for field in ("description", "receipt_email", "transfer_group"):
        if field in call.params:
            updates[field] = get_str(call.params, field)
    previous = changed(charge, **updates)
    if previous:
        emit(call.state, call.ctx, "charge.updated", charge, previous=previous)
    return charge


def list_all(call: ApiCall) -> StripeObject:
    items = call.state.store.all("charge", call.account)
    items = filter_equal(items, call.params, "customer", "payment_intent", "transfer_group")
    return list_object(filter_range(items, call.params, "created"), call.params, call.url)


def search(call: ApiCall) -> StripeObject:
    return search_object(call.state.store.all("charge", call.account), call.params, call.url)


ROUTES: list[Route] = [
    ("GET", "/v1/charges", list_all),
    ("GET", "/v1/charges/search", search),
    ("GET", "/v1/charges/{id}", retrieve),
    ("POST", "/v1/charges/{id}", update),
]
