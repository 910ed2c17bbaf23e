"""Webhook endpoints; the `whsec_` secret is shown once, in the creation response."""

from __future__ import annotations

import secrets

from devtools.stripe_emulator.context import ApiCall, Route, StripeObject
from devtools.stripe_emulator.errors import invalid_request
from devtools.stripe_emulator.forms import get_bool, get_list, get_str, merge_metadata, require_str
from devtools.stripe_emulator.pagination import list_object
from devtools.stripe_emulator.store import new_id, now


def _events(call: ApiCall) -> list[str]:
    events = [str(e) for e in get_list(call.params, "enabled_events")]
    if not events:
        raise invalid_request("Missing required param: enabled_events.", param="enabled_events")
    return events


def _url(call: ApiCall) -> str:
    url = require_str(call.params, "url")
    if not url.startswith(("http://", "https://")):
        raise invalid_request(f"Invalid URL: {url}", param="url", code="url_invalid")
    return url


def create(call: ApiCall) -> StripeObject:
    if call.account is not None:
        raise invalid_request("Webhook endpoints belong to the platform; omit Stripe-Account.")
    endpoint: StripeObject = {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": get_str(call.params, "api_version"),
        "application": None,
        "connect": get_bool(call.params, "connect"),
        "created": now(),
        "description": get_str(call.params, "description"),
        "enabled_events": _events(call),
        "livemode": False,
        "metadata": merge_metadata({}, call.params),
        "status": "enabled",
        "url": _url(call),
    }
    secret = f"whsec_{secrets.token_hex(24)}"
    call.state.webhook_secrets[endpoint["id"]] = secret
    call.state.store.add(endpoint, None)
    return {**endpoint, "secret": secret}


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get("webhook_endpoint", call.path_id(), None)


def update(call: ApiCall) -> StripeObject:
    endpoint = retrieve(call)
    if "url" in call.params:
        endpoint["url"] = _url(call)
    if "enabled_events" in call.params:
        endpoint["enabled_events"] = _events(call)
    if "disabled" in call.params:
        endpoint["status"] = "disabled" if get_bool(call.params, "disabled") else "enabled"
    if "description" in call.params:
        endpoint["description"] = get_str(call.params, "description")
    endpoint["metadata"] = merge_metadata(endpoint["metadata"], call.params)
    return endpoint


def delete(call: ApiCall) -> StripeObject:
    endpoint = retrieve(call)
    call.state.store.remove(endpoint["id"])
    call.state.webhook_secrets.pop(endpoint["id"], None)
    return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


def list_all(call: ApiCall) -> StripeObject:
    return list_object(call.state.store.all("webhook_endpoint", None), call.params, call.url)


ROUTES: list[Route] = [
    ("POST", "/v1/webhook_endpoints", create),
    ("GET", "/v1/webhook_endpoints", list_all),
    ("GET", "/v1/webhook_endpoints/{id}", retrieve),
    ("POST", "/v1/webhook_endpoints/{id}", update),
    ("DELETE", "/v1/webhook_endpoints/{id}", delete),
]
