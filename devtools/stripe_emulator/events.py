"""Events: snapshots of objects at the moment something happened, then handed to webhooks."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from devtools.stripe_emulator.context import RequestContext
from devtools.stripe_emulator.forms import Params, get_bool, get_list
from devtools.stripe_emulator.pagination import filter_range
from devtools.stripe_emulator.store import new_id, now

if TYPE_CHECKING:
    from devtools.stripe_emulator.state import EmulatorState

StripeObject = dict[str, Any]


def emit(
    state: EmulatorState,
    ctx: RequestContext,
    event_type: str,
    obj: StripeObject,
    *,
    previous: StripeObject | None = None,
    account: str | None = None,
) -> StripeObject:
    """Record an event and queue its delivery; `account` defaults to the caller's scope.

    Events in a connected account's scope carry `"account"` and go to Connect endpoints only.
    """
    scope = account if account is not None else ctx.account
    event: StripeObject = {
        "id": new_id("evt"),
        "object": "event",
        "api_version": state.config.api_version,
        "created": now(),
        "data": {"object": copy.deepcopy(obj)},
        "livemode": False,
        "pending_webhooks": 0,
        "request": ctx.request_ref(),
        "type": event_type,
    }
    if previous is not None:
        event["data"]["previous_attributes"] = copy.deepcopy(previous)
    if scope is not None:
        event["account"] = scope
    state.store.add(event, scope)
    state.dispatcher.enqueue(event, state.dispatcher.matching_endpoints(event))
    return event


def changed(obj: StripeObject, **updates: Any) -> StripeObject:
    """Apply `updates` to `obj`, returning the previous values of the fields that changed."""
    previous = {k: copy.deepcopy(obj.get(k)) for k, v in updates.items() if obj.get(k) != v}
    obj.update(updates)
    return previous


def filter_events(events: list[StripeObject], params: Params) -> list[StripeObject]:
    wanted = [str(t) for t in get_list(params, "types")]
    single = params.get("type")
    if isinstance(single, str) and single:
        wanted.append(single)
    if wanted:
        events = [e for e in events if any(_type_matches(p, e["type"]) for p in wanted)]
    if params.get("delivery_success") not in (None, ""):
        success = get_bool(params, "delivery_success")
        events = [e for e in events if (e["pending_webhooks"] == 0) == success]
    return filter_range(events, params, "created")


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type
