"""Connect accounts (express, standard, custom) and onboarding account links."""

from __future__ import annotations

from devtools.stripe_emulator.context import ApiCall, Route, StripeObject, internal
from devtools.stripe_emulator.errors import invalid_request
from devtools.stripe_emulator.events import changed, emit
from devtools.stripe_emulator.forms import get_dict, get_str, merge_metadata, require_str
from devtools.stripe_emulator.pagination import filter_range, list_object
from devtools.stripe_emulator.state import EmulatorState
from devtools.stripe_emulator.store import new_id, now

_TYPES = ("express", "standard", "custom", "none")
_ONBOARDING_DUE = [
    "business_profile.url",
    "external_account",
    "individual.dob.day",
    "individual.first_name",
    "individual.last_name",
    "tos_acceptance.date",
]


def _capabilities(call: ApiCall) -> dict[str, str]:
    requested = get_dict(call.params, "capabilities")
    names = [
        n for n, v in requested.items() if isinstance(v, dict) and v.get("requested") == "true"
    ]
    return dict.fromkeys(names or ["card_payments", "transfers"], "inactive")


def create(call: ApiCall) -> StripeObject:
    if call.account is not None:
        raise invalid_request(
            "Connected accounts are created by the platform, without Stripe-Account."
        )
    kind = get_str(call.params, "type") or "express"
    if kind not in _TYPES:
        raise invalid_request(f"Invalid type: must be one of {', '.join(_TYPES)}", param="type")
    account: StripeObject = {
        "id": new_id("acct", 16),
        "object": "account",
        "business_profile": get_dict(call.params, "business_profile") or {"url": None},
        "business_type": get_str(call.params, "business_type"),
        "capabilities": _capabilities(call),
        "charges_enabled": False,
        "country": (get_str(call.params, "country") or "US").upper(),
        "created": now(),
        "default_currency": (get_str(call.params, "default_currency") or "usd").lower(),
        "details_submitted": False,
        "email": get_str(call.params, "email"),
        "external_accounts": {"object": "list", "data": [], "has_more": False, "url": ""},
        "metadata": merge_metadata({}, call.params),
        "payouts_enabled": False,
        "requirements": _requirements(list(_ONBOARDING_DUE)),
        "settings": {"payouts": {"schedule": {"delay_days": 2, "interval": "daily"}}},
        "type": kind,
    }
    account["external_accounts"]["url"] = f"/v1/accounts/{account['id']}/external_accounts"
    return call.state.store.add(account, None)


def _requirements(due: list[str]) -> StripeObject:
    return {
        "current_deadline": None,
        "currently_due": due,
        "disabled_reason": "requirements.past_due" if due else None,
        "errors": [],
        "eventually_due": list(due),
        "past_due": list(due),
        "pending_verification": [],
    }


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get("account", call.path_id(), None)


def retrieve_current(call: ApiCall) -> StripeObject:
    if call.account is None:
        return call.state.platform_account()
    return call.state.store.get("account", call.account, None)


def update(call: ApiCall) -> StripeObject:
    account = retrieve(call)
    updates: StripeObject = {}
    if "metadata" in call.params:
        updates["metadata"] = merge_metadata(account["metadata"], call.params)
    for field in ("email", "business_type"):
        if field in call.params:
            updates[field] = get_str(call.params, field)
    if "business_profile" in call.params:
        updates["business_profile"] = {
            **account["business_profile"],
            **get_dict(call.params, "business_profile"),
        }
    previous = changed(account, **updates)
    if previous:
        emit(
            call.state,
            call.ctx,
            "account.updated",
            account,
            previous=previous,
            account=account["id"],
        )
    return account


def delete(call: ApiCall) -> StripeObject:
    account = retrieve(call)
    call.state.store.remove(account["id"])
    return {"id": account["id"], "object": "account", "deleted": True}


def list_all(call: ApiCall) -> StripeObject:
    items = filter_range(call.state.store.all("account", None), call.params, "created")
    return list_object(items, call.params, call.url)


def complete_onboarding(state: EmulatorState, account: StripeObject) -> StripeObject:
    """What a seller finishing Stripe's hosted onboarding does to their account."""
    previous = changed(
        account,
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
        capabilities=dict.fromkeys(account["capabilities"], "active"),
        requirements=_requirements([]),
    )
    if previous:
        emit(state, internal(account["id"]), "account.updated", account, previous=previous)
    return account


def create_link(call: ApiCall) -> StripeObject:
    account_id = require_str(call.params, "account")
    call.state.store.get("account", account_id, None, param="account")
    kind = get_str(call.params, "type") or "account_onboarding"
    if kind not in ("account_onboarding", "account_update"):
        raise invalid_request(f"Invalid type: {kind}", param="type")
    return_url = require_str(call.params, "return_url")
    refresh_url = get_str(call.params, "refresh_url") or return_url
    created = now()
    query = f"return_url={_quote(return_url)}&refresh_url={_quote(refresh_url)}"
    return {
        "object": "account_link",
        "created": created,
        "expires_at": created + 300,
        "url": f"{call.base_url}/_emulator/accounts/{account_id}/onboarding?{query}",
    }


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


ROUTES: list[Route] = [
    ("POST", "/v1/accounts", create),
    ("GET", "/v1/accounts", list_all),
    ("GET", "/v1/account", retrieve_current),
    ("GET", "/v1/accounts/{id}", retrieve),
    ("POST", "/v1/accounts/{id}", update),
    ("DELETE", "/v1/accounts/{id}", delete),
    ("POST", "/v1/account_links", create_link),
]
