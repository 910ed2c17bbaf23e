"""`GET /v1/balance` and balance transactions (by payout, created, type, source)."""

from __future__ import annotations

from devtools.stripe_emulator.context import ApiCall, Route, StripeObject
from devtools.stripe_emulator.ledger import balance
from devtools.stripe_emulator.pagination import filter_equal, filter_range, list_object


def retrieve_balance(call: ApiCall) -> StripeObject:
    return balance(call.state, call.account)


def list_transactions(call: ApiCall) -> StripeObject:
    items = call.state.store.all("balance_transaction", call.account)
    payout = call.params.get("payout")
    if isinstance(payout, str) and payout:
        call.state.store.get("payout", payout, call.account, param="payout")
        members = set(call.state.payout_members.get(payout, []))
        items = [t for t in items if t["id"] in members]
    items = filter_equal(items, call.params, "type", "source", "currency")
    return list_object(filter_range(items, call.params, "created"), call.params, call.url)


def retrieve_transaction(call: ApiCall) -> StripeObject:
    return call.state.store.get("balance_transaction", call.path_id(), call.account)


ROUTES: list[Route] = [
    ("GET", "/v1/balance", retrieve_balance),
    ("GET", "/v1/balance_transactions", list_transactions),
    ("GET", "/v1/balance_transactions/{id}", retrieve_transaction),
]
