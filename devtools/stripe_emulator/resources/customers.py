"""Customers: create, retrieve, update, delete, list (by email), search."""

from __future__ import annotations

from devtools.stripe_emulator.context import ApiCall, Route, StripeObject
from devtools.stripe_emulator.events import changed, emit
from devtools.stripe_emulator.forms import get_str, merge_metadata
from devtools.stripe_emulator.pagination import filter_equal, filter_range, list_object
from devtools.stripe_emulator.search import search_object
from devtools.stripe_emulator.store import new_id, now

_FIELDS = ("email", "name", "description", "phone")


def create(call: ApiCall) -> StripeObject:
    customer: StripeObject = {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "invoice_prefix": new_id("", 8)[1:].upper(),
        "invoice_settings": {"default_payment_method": None},
        "livemode": False,
        "metadata": merge_metadata({}, call.params),
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
    }
    customer.update({field: get_str(call.params, field) for field in _FIELDS})
    call.state.store.add(customer, call.account)
    emit(call.state, call.ctx, "customer.created", customer)
    return customer


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get("customer", call.path_id(), call.account)


def update(call: ApiCall) -> StripeObject:
    customer = retrieve(call)
    updates: StripeObject = {f: get_str(call.params, f) for f in _FIELDS if f in call.params}
    if "metadata" in call.params:
        updates["metadata"] = merge_metadata(customer["metadata"], call.params)
    settings = call.params.get("invoice_settings")
    if isinstance(settings, dict) and "default_payment_method" in settings:
        updates["invoice_settings"] = {
            "default_payment_method": settings["default_payment_method"] or None
        }
    previous = changed(customer, **updates)
    if previous:
        emit(call.state, call.ctx, "customer.updated", customer, previous=previous)
    return customer


def delete(call: ApiCall) -> StripeObject:
    customer = retrieve(call)
    call.state.store.remove(customer["id"])
    emit(call.state, call.ctx, "customer.deleted", customer)
    return {"id": customer["id"], "object": "customer", "deleted": True}


def list_all(call: ApiCall) -> StripeObject:
    items = call.state.store.all("customer", call.account)
    items = filter_equal(items, call.params, "email")
    return list_object(filter_range(items, call.params, "created"), call.params, call.url)


def search(call: ApiCall) -> StripeObject:
    return search_object(call.state.store.all("customer", call.account), call.params, call.url)


ROUTES: list[Route] = [
    ("POST", "/v1/customers", create),
    ("GET", "/v1/customers", list_all),
    ("GET", "/v1/customers/search", search),
    ("GET", "/v1/customers/{id}", retrieve),
    ("POST", "/v1/customers/{id}", update),
    ("DELETE", "/v1/customers/{id}", delete),
]
