"""The processing fee keeps the currency Stripe reports it in, everywhere the order shows it."""

from __future__ import annotations

from libs.common.contracts.orders_events import Cause
from libs.common.fees import FeePolicy
from services.orders import views
from services.orders.domain.aggregate import apply_facts, processing_fee_recorded
from services.orders.domain.timeline import timeline

from .builders import charge, create, event, must, run, succeeded

SETTLED_IN_EUR = {
    "id": "txn_9", "fee": 157, "currency": "eur", "exchange_rate": 0.912345,
    "created": 1_700_000_021,
}  # fmt: skip


def test_a_fee_settled_in_another_currency_is_kept_in_it() -> None:
    # given a USD order whose charge Stripe settled in EUR at 0.912345
    paid = event("charge.succeeded", charge(balance_transaction=SETTLED_IN_EUR), 20)
    order = must(run([create(), paid]))
    # then state, view and breakdown say EUR and carry the rate as exact text
    assert (order.payment.fee_currency, order.payment.exchange_rate) == ("eur", "0.912345")
    body = views.order_body(order)["payment"]
    assert body["processing_fee"] == {"amount": 157, "currency": "eur"}
    assert body["exchange_rate"] == "0.912345"
    fees = views.fees_body(order, FeePolicy())
    assert fees["processing_fee"] == {"amount": 157, "currency": "eur"}
    assert (fees["settlement_currency"], fees["exchange_rate"]) == ("eur", "0.912345")
    assert [a["currency"] for a in fees["platform_net"]] == ["usd", "eur"]


def test_a_fetched_fee_is_on_the_timeline_in_its_currency() -> None:
    state = must(run([create(), succeeded(20)]))
    fact = processing_fee_recorded(
        state.order_id,
        "ch_1",
        SETTLED_IN_EUR,
        Cause(kind="stripe_event", id="evt_charge.succeeded_20"),
    )
    after, _ = apply_facts(state, [fact])
    entry = timeline(must(after))[-1]
    assert entry.kind == "ProcessingFeeRecorded"
    assert entry.amount is not None
    assert (entry.amount.amount, entry.amount.currency) == (157, "eur")
