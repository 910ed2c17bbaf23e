"""Payouts to the bank: manual (`POST /v1/payouts`) or scheduled (automatic), then paid.

A payout lands (`payout.paid`) `payout_paid_after_ms` after creation, or when a test calls
`POST /_emulator/payouts/{id}/pay`.
"""

from __future__ import annotations

from devtools.stripe_emulator.context import ApiCall, Route, StripeObject, internal
from devtools.stripe_emulator.errors import invalid_request, unexpected_state
from devtools.stripe_emulator.events import changed, emit
from devtools.stripe_emulator.forms import get_str, merge_metadata, require_int
from devtools.stripe_emulator.ledger import add_transaction, available
from devtools.stripe_emulator.pagination import filter_equal, filter_range, list_object
from devtools.stripe_emulator.state import EmulatorState
from devtools.stripe_emulator.store import new_id, now

_DAY = 24 * 3600
_OPEN = ("pending", "in_transit")


def book(
    state: EmulatorState,
    account: str | None,
    fields: StripeObject,
    members: list[str],
    request: ApiCall | None = None,
) -> StripeObject:
    payout_id = new_id("po")
    amount, currency = fields["amount"], fields["currency"]
    debit = add_transaction(
        state, account, amount=-amount, currency=currency, kind="payout", source=payout_id
    )
    created = now()
    payout: StripeObject = {
        "id": payout_id,
        "object": "payout",
        "arrival_date": created + (0 if fields["method"] == "instant" else 2 * _DAY),
        "balance_transaction": debit["id"],
        "created": created,
        "destination": f"ba_{(account or 'platform')[-12:]}",
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "reconciliation_status": "in_progress" if fields["automatic"] else "not_applicable",
        "source_type": "card",
        "status": "pending",
        "type": "bank_account",
        **fields,
    }
    state.store.add(payout, account)
    state.payout_members[payout_id] = [*members, debit["id"]]
    ctx = request.ctx if request is not None else internal(account)
    emit(state, ctx, "payout.created", payout)
    state.later(state.config.payout_paid_after_ms, lambda: settle(state, payout, "paid"))
    return payout


def settle(state: EmulatorState, payout: StripeObject, outcome: str) -> StripeObject:
    """The bank's answer: `paid`, or `failed` (the money returns to the balance)."""
    if payout["status"] not in _OPEN or state.store.find(payout["id"]) is not payout:
        return payout
    account = state.store.owner.get(payout["id"])
    updates: StripeObject = {"status": outcome}
    if payout["automatic"]:
        updates["reconciliation_status"] = "completed"
    if outcome == "failed":
        refund = add_transaction(
            state, account, amount=payout["amount"], currency=payout["currency"],
            kind="payout_failure", source=payout["id"],
        )  # fmt: skip
        updates.update(
            failure_balance_transaction=refund["id"],
            failure_code="account_closed",
            failure_message="The bank account has been closed.",
        )
    previous = changed(payout, **updates)
    emit(state, internal(account), f"payout.{outcome}", payout, previous=previous)
    return payout


def run_schedule(state: EmulatorState, account: str | None) -> list[StripeObject]:
    """Automatic payouts: sweep every available balance transaction not yet paid out."""
    swept = {t for members in state.payout_members.values() for t in members}
    pending = [t for t in state.store.all("balance_transaction", account) if t["id"] not in swept]
    payouts = []
    for currency in sorted({t["currency"] for t in pending}):
        members = [t["id"] for t in pending if t["currency"] == currency]
        amount = available(state, account, currency)
        if amount > 0:
            fields = _fields(amount, currency, "standard", automatic=True)
            payouts.append(book(state, account, fields, members))
    return payouts


def _fields(amount: int, currency: str, method: str, *, automatic: bool) -> StripeObject:
    return {
        "amount": amount,
        "automatic": automatic,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "metadata": {},
        "method": method,
        "statement_descriptor": None,
    }


def create(call: ApiCall) -> StripeObject:
    amount = require_int(call.params, "amount")
    currency = (get_str(call.params, "currency") or "usd").lower()
    method = get_str(call.params, "method") or "standard"
    if amount <= 0 or method not in ("standard", "instant"):
        raise invalid_request(
            "A payout needs a positive amount and a method of standard or instant."
        )
    if call.account is not None:
        account = call.state.store.get("account", call.account, None)
        if not account["payouts_enabled"]:
            raise invalid_request(
                "Payouts are not enabled for this account: it has not completed onboarding.",
                code="payouts_not_allowed",
            )
    if available(call.state, call.account, currency) < amount:
        raise invalid_request(
            "You have insufficient funds in your Stripe account for this transfer.",
            code="balance_insufficient",
        )
    fields = _fields(amount, currency, method, automatic=False)
    fields["metadata"] = merge_metadata({}, call.params)
    fields["description"] = get_str(call.params, "description")
    fields["statement_descriptor"] = get_str(call.params, "statement_descriptor")
    return book(call.state, call.account, fields, [], call)


def retrieve(call: ApiCall) -> StripeObject:
    return call.state.store.get("payout", call.path_id(), call.account)


def cancel(call: ApiCall) -> StripeObject:
    payout = retrieve(call)
    if payout["status"] != "pending":
        raise unexpected_state(
            f"Payouts can only be canceled while pending (status: {payout['status']}).",
            code="payout_not_cancelable",
        )
    add_transaction(
        call.state, call.account, amount=payout["amount"], currency=payout["currency"],
        kind="payout_cancel", source=payout["id"],
    )  # fmt: skip
    previous = changed(payout, status="canceled")
    emit(call.state, call.ctx, "payout.canceled", payout, previous=previous)
    return payout


def list_all(call: ApiCall) -> StripeObject:
    items = call.state.store.all("payout", call.account)
    items = filter_equal(items, call.params, "status", "destination")
    items = filter_range(filter_range(items, call.params, "created"), call.params, "arrival_date")
    return list_object(items, call.params, call.url)


ROUTES: list[Route] = [
    ("POST", "/v1/payouts", create),
    ("GET", "/v1/payouts", list_all),
    ("GET", "/v1/payouts/{id}", retrieve),
    ("POST", "/v1/payouts/{id}/cancel", cancel),
]
