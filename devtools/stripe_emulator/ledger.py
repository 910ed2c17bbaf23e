"""Balance transactions and balances, per account, in integer minor units.

Funds are available at once (as with Stripe's `4000000000000077` test card), so that payouts and
transfers can run in tests without waiting for a settlement schedule.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from devtools.stripe_emulator.store import new_id, now

if TYPE_CHECKING:
    from devtools.stripe_emulator.state import EmulatorState

StripeObject = dict[str, Any]

REPORTING_CATEGORY = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "adjustment": "dispute",
    "transfer": "transfer",
    "transfer_refund": "transfer_reversal",
    "payout": "payout",
    "payout_failure": "payout_reversal",
    "application_fee": "platform_earning",
    "application_fee_refund": "platform_earning_refund",
}


def fee_detail(amount: int, currency: str, kind: str = "stripe_fee") -> StripeObject:
    descriptions = {
        "stripe_fee": "Stripe processing fees",
        "application_fee": "Application fee",
    }
    return {
        "amount": amount,
        "application": None,
        "currency": currency,
        "description": descriptions.get(kind, kind),
        "type": kind,
    }


def add_transaction(
    state: EmulatorState,
    account: str | None,
    *,
    amount: int,
    currency: str,
    kind: str,
    source: str,
    fee_details: list[StripeObject] | None = None,
    description: str | None = None,
) -> StripeObject:
    details = fee_details or []
    fee = sum(int(d["amount"]) for d in details)
    created = now()
    transaction: StripeObject = {
        "id": new_id("txn"),
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created,
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": details,
        "net": amount - fee,
        "reporting_category": REPORTING_CATEGORY.get(kind, kind),
        "source": source,
        "status": "available",
        "type": kind,
    }
    return state.store.add(transaction, account)


def available(state: EmulatorState, account: str | None, currency: str) -> int:
    return sum(
        int(t["net"])
        for t in state.store.all("balance_transaction", account)
        if t["currency"] == currency
    )


def balance(state: EmulatorState, account: str | None) -> StripeObject:
    totals: dict[str, int] = defaultdict(int)
    for transaction in state.store.all("balance_transaction", account):
        totals[transaction["currency"]] += int(transaction["net"])
    if not totals:
        totals["usd"] = 0
    return {
        "object": "balance",
        "available": [
            {"amount": amount, "currency": currency, "source_types": {"card": amount}}
            for currency, amount in sorted(totals.items())
        ],
        "connect_reserved": [{"amount": 0, "currency": c} for c in sorted(totals)],
        "livemode": False,
        "pending": [
            {"amount": 0, "currency": c, "source_types": {"card": 0}} for c in sorted(totals)
        ],
    }
