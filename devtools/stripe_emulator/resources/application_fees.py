"""Application fees collected by the platform on Connect charges, and their refunds."""

from __future__ import annotations

import dataclasses

from devtools.stripe_emulator.context import ApiCall, RequestContext, Route, StripeObject
from devtools.stripe_emulator.errors import invalid_request
from devtools.stripe_emulator.events import emit
from devtools.stripe_emulator.forms import get_int, merge_metadata
from devtools.stripe_emulator.ledger import add_transaction
from devtools.stripe_emulator.pagination import filter_equal, filter_range, list_object
from devtools.stripe_emulator.state import EmulatorState
from devtools.stripe_emulator.store import new_id, now

APPLICATION_ID = "ca_emulator"


def collect(
    state: EmulatorState,
    ctx: RequestContext,
    charge: StripeObject,
    amount: int,
    account: str | None,
) -> StripeObject:
    """Record the platform's fee; a direct charge also credits the platform's balance.

    On a destination charge the fee is what the platform keeps back from the transfer, so it
    has no balance transaction of its own.
    """
    fee_id = new_id("fee")
    transaction = None
    if ctx.account is not None:
        transaction = add_transaction(
            state, None, amount=amount, currency=charge["currency"], kind="application_fee",
            source=fee_id,
        )  # fmt: skip
    fee = _fee_object(fee_id, charge, amount, account, transaction)
    state.store.add(fee, None)
    charge["application_fee"] = fee_id
    emit(state, dataclasses.replace(ctx, account=None), "application_fee.created", fee)
    return fee


def _fee_object(
    fee_id: str,
    charge: StripeObject,
    amount: int,
    account: str | None,
    transaction: StripeObject | None,
) -> StripeObject:
    return {
        "id": fee_id,
        "object": "application_fee",
        "account": account,
        "amount": amount,
        "amount_refunded": 0,
        "application": APPLICATION_ID,
        "balance_transaction": transaction["id"] if transaction else None,
        "charge": charge["id"],
        "created": now(),
        "currency": charge["currency"],
        "fee_source": {"charge": charge["id"], "type": "charge"},
        "livemode": False,
        "originating_transaction": None,
        "refunded": False,
        "refunds": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/application_fees/{fee_id}/refunds",
        },
    }


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get("application_fee", call.path_id(), call.account)


def list_all(call: ApiCall) -> StripeObject:
    items = call.state.store.all("application_fee", call.account)
    items = filter_equal(items, call.params, "charge")
    return list_object(filter_range(items, call.params, "created"), call.params, call.url)


def create_refund(call: ApiCall) -> StripeObject:
    fee = retrieve(call)
    remaining = fee["amount"] - fee["amount_refunded"]
    amount = get_int(call.params, "amount") or remaining
    if not 0 < amount <= remaining:
        raise invalid_request(
            f"Refund amount ({amount}) is greater than the unrefunded application fee "
            f"({remaining}).",
            param="amount",
            code="amount_too_large",
        )
    refund_id = new_id("fr")
    transaction = None
    if fee["balance_transaction"] is not None:
        transaction = add_transaction(
            call.state, None, amount=-amount, currency=fee["currency"],
            kind="application_fee_refund", source=refund_id,
        )  # fmt: skip
    refund: StripeObject = {
        "id": refund_id,
        "object": "fee_refund",
        "amount": amount,
        "balance_transaction": transaction["id"] if transaction else None,
        "created": now(),
        "currency": fee["currency"],
        "fee": fee["id"],
        "metadata": merge_metadata({}, call.params),
    }
    call.state.store.add(refund, None)
    fee["amount_refunded"] += amount
    fee["refunded"] = fee["amount_refunded"] == fee["amount"]
    fee["refunds"]["data"].insert(0, refund)
    fee["refunds"]["total_count"] += 1
    emit(call.state, call.ctx, "application_fee.refunded", fee)
    return refund


def list_refunds(call: ApiCall) -> StripeObject:
    return list_object(list(retrieve(call)["refunds"]["data"]), call.params, call.url)


ROUTES: list[Route] = [
    ("GET", "/v1/application_fees", list_all),
    ("GET", "/v1/application_fees/{id}", retrieve),
    ("POST", "/v1/application_fees/{id}/refunds", create_refund),
    ("GET", "/v1/application_fees/{id}/refunds", list_refunds),
]
