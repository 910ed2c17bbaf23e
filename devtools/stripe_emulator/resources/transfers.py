"""Connect transfers (separate charges and transfers, destination charges) and reversals."""

from __future__ import annotations

import dataclasses

from devtools.stripe_emulator.context import ApiCall, RequestContext, Route, StripeObject
from devtools.stripe_emulator.errors import StripeError, invalid_request
from devtools.stripe_emulator.events import emit
from devtools.stripe_emulator.forms import get_int, get_str, merge_metadata, require_int
from devtools.stripe_emulator.ledger import add_transaction, available
from devtools.stripe_emulator.pagination import filter_equal, filter_range, list_object
from devtools.stripe_emulator.resources.intent_params import currency as currency_param
from devtools.stripe_emulator.state import EmulatorState
from devtools.stripe_emulator.store import new_id, now


def _book(
    state: EmulatorState,
    ctx: RequestContext,
    fields: StripeObject,
) -> StripeObject:
    transfer_id = new_id("tr")
    payment_id = new_id("py")
    amount, currency, destination = fields["amount"], fields["currency"], fields["destination"]
    debit = add_transaction(
        state, None, amount=-amount, currency=currency, kind="transfer", source=transfer_id
    )
    add_transaction(
        state, destination, amount=amount, currency=currency, kind="payment", source=payment_id
    )
    transfer: StripeObject = {
        "id": transfer_id,
        "object": "transfer",
        "amount_reversed": 0,
        "balance_transaction": debit["id"],
        "created": now(),
        "destination_payment": payment_id,
        "livemode": False,
        "reversals": _reversal_list(transfer_id),
        "reversed": False,
        "source_type": "card",
        **fields,
    }
    state.store.add(transfer, None)
    emit(state, dataclasses.replace(ctx, account=None), "transfer.created", transfer)
    return transfer


def _reversal_list(transfer_id: str) -> StripeObject:
    return {
        "object": "list",
        "data": [],
        "has_more": False,
        "total_count": 0,
        "url": f"/v1/transfers/{transfer_id}/reversals",
    }


def destination_transfer(
    state: EmulatorState,
    ctx: RequestContext,
    intent: StripeObject,
    charge: StripeObject,
    captured: int,
) -> StripeObject:
    """The automatic transfer of a destination charge: captured amount less the app fee."""
    data = intent["transfer_data"]
    amount = data.get("amount") or captured - (intent.get("application_fee_amount") or 0)
    transfer = _book(
        state,
        ctx,
        {
            "amount": amount,
            "currency": intent["currency"],
            "description": None,
            "destination": data["destination"],
            "metadata": {},
            "source_transaction": charge["id"],
            "transfer_group": intent.get("transfer_group") or f"group_{intent['id']}",
        },
    )
    charge["transfer"] = transfer["id"]
    return transfer


def _check_destination(state: EmulatorState, destination: str) -> None:
    account = state.store.owned("account", destination, None)
    if account is None:
        raise StripeError(
            400,
            f"No such destination: '{destination}'",
            param="destination",
            code="resource_missing",
        )
    if (account.get("capabilities") or {}).get("transfers") != "active":
        raise invalid_request(
            "Your destination account needs to have at least one of the following capabilities "
            "enabled: transfers, crypto_transfers, legacy_payments",
            param="destination",
            code="insufficient_capabilities_for_transfer",
        )


def _check_funds(call: ApiCall, amount: int, currency: str, source: str | None) -> None:
    state = call.state
    if source is None:
        if available(state, None, currency) < amount:
            raise invalid_request(
                "You have insufficient available funds in your Stripe account. Try adding funds "
                "directly to your available balance by creating Charges using the "
                "4000000000000077 test card.",
                code="balance_insufficient",
            )
        return
    charge = state.store.get("charge", source, None, param="source_transaction")
    used = sum(
        t["amount"] for t in state.store.all("transfer", None) if t["source_transaction"] == source
    )
    remaining = charge["amount_captured"] - charge["amount_refunded"] - used
    if charge["currency"] != currency or amount > remaining:
        raise invalid_request(
            f"The transfer amount ({amount} {currency}) exceeds what remains of the source "
            f"transaction {source} ({remaining} {charge['currency']}).",
            param="amount",
            code="amount_too_large",
        )


def create(call: ApiCall) -> StripeObject:
    if call.account is not None:
        raise invalid_request("Transfers are created by the platform, without Stripe-Account.")
    amount = require_int(call.params, "amount")
    if amount <= 0:
        raise invalid_request("Amount must be positive.", param="amount")
    currency = currency_param(call.params)
    destination = get_str(call.params, "destination", required=True) or ""
    _check_destination(call.state, destination)
    source = get_str(call.params, "source_transaction")
    _check_funds(call, amount, currency, source)
    fields = {
        "amount": amount,
        "currency": currency,
        "description": get_str(call.params, "description"),
        "destination": destination,
        "metadata": merge_metadata({}, call.params),
        "source_transaction": source,
        "transfer_group": get_str(call.params, "transfer_group"),
    }
    return _book(call.state, call.ctx, fields)


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get("transfer", call.path_id(), call.account)


def update(call: ApiCall) -> StripeObject:
    transfer = retrieve(call)
    transfer["metadata"] = merge_metadata(transfer["metadata"], call.params)
    if "description" in call.params:
        transfer["description"] = get_str(call.params, "description")
    return transfer


def list_all(call: ApiCall) -> StripeObject:
    items = call.state.store.all("transfer", call.account)
    items = filter_equal(items, call.params, "destination", "transfer_group")
    return list_object(filter_range(items, call.params, "created"), call.params, call.url)


def create_reversal(call: ApiCall) -> StripeObject:
    transfer = retrieve(call)
    remaining = transfer["amount"] - transfer["amount_reversed"]
    amount = get_int(call.params, "amount") or remaining
    if not 0 < amount <= remaining:
        raise invalid_request(
            f"Amount ({amount}) is greater than the amount left to reverse on this transfer "
            f"({remaining}).",
            param="amount",
            code="amount_too_large",
        )
    if available(call.state, transfer["destination"], transfer["currency"]) < amount:
        raise invalid_request(
            "The destination account has insufficient funds to reverse this transfer.",
            code="balance_insufficient",
        )
    return reverse(call.state, call.ctx, transfer, amount, merge_metadata({}, call.params))


def reverse(
    state: EmulatorState,
    ctx: RequestContext,
    transfer: StripeObject,
    amount: int,
    metadata: dict[str, str],
) -> StripeObject:
    reversal_id, refund_id = new_id("trr"), new_id("pyr")
    currency = transfer["currency"]
    credit = add_transaction(
        state, None, amount=amount, currency=currency, kind="transfer_refund", source=reversal_id
    )
    add_transaction(
        state, transfer["destination"], amount=-amount, currency=currency,
        kind="payment_refund", source=refund_id,
    )  # fmt: skip
    reversal: StripeObject = {
        "id": reversal_id,
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": credit["id"],
        "created": now(),
        "currency": currency,
        "destination_payment_refund": refund_id,
        "metadata": metadata,
        "source_refund": None,
        "transfer": transfer["id"],
    }
    state.store.add(reversal, None)
    transfer["amount_reversed"] += amount
    transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
    transfer["reversals"]["data"].insert(0, reversal)
    transfer["reversals"]["total_count"] += 1
    emit(state, dataclasses.replace(ctx, account=None), "transfer.reversed", transfer)
    return reversal


def list_reversals(call: ApiCall) -> StripeObject:
    transfer = retrieve(call)
    return list_object(list(transfer["reversals"]["data"]), call.params, call.url)


def retrieve_reversal(call: ApiCall) -> StripeObject:
    retrieve(call)
    return call.state.store.get("transfer_reversal", call.path_id("reversal"), None)


ROUTES: list[Route] = [
    ("POST", "/v1/transfers", create),
    ("GET", "/v1/transfers", list_all),
    ("GET", "/v1/transfers/{id}", retrieve),
    ("POST", "/v1/transfers/{id}", update),
    ("POST", "/v1/transfers/{id}/reversals", create_reversal),
    ("GET", "/v1/transfers/{id}/reversals", list_reversals),
    ("GET", "/v1/transfers/{id}/reversals/{reversal}", retrieve_reversal),
]
