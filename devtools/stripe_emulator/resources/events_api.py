"""`GET /v1/events` (backfill and replay) and `GET /v1/events/{id}`."""

from __future__ import annotations

from devtools.stripe_emulator.context import ApiCall, Route, StripeObject
from devtools.stripe_emulator.events import filter_events
from devtools.stripe_emulator.pagination import list_object


def list_all(call: ApiCall) -> StripeObject:
    events = filter_events(call.state.store.all("event", call.account), call.params)
    return list_object(events, call.params, call.url)


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get("event", call.path_id(), call.account)


ROUTES: list[Route] = [
    ("GET", "/v1/events", list_all),
    ("GET", "/v1/events/{id}", retrieve),
]
