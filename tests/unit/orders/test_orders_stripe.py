"""Stripe events through the domain: duplicates, shuffles, 3DS, declines, manual capture."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.contracts.orders_events import (
    CaptureRequested,
    Cause,
    OrderFact,
    OrderFulfilled,
    OrderRefunded,
    PaymentCaptured,
)
from libs.common.contracts.stripe_events import StripeEventReceived
from services.orders.domain.aggregate import (
    apply_facts,
    checkout_session_created,
    handle_command,
    handle_stripe_event,
    processing_fee_recorded,
    restore,
    snapshot,
)
from services.orders.domain.state import Order
from services.orders.domain.stripe_facts import translate
from services.orders.domain.timeline import timeline

from .builders import (
    API,
    TOTAL,
    cancel,
    capturable,
    charge,
    charge_succeeded,
    create,
    dispute_closed,
    dispute_created,
    event,
    failed,
    fulfil,
    intent,
    must,
    order_in,
    pi_canceled,
    refunded,
    requires_action,
    run,
    succeeded,
)

HISTORY = [
    requires_action(10),
    failed(11),
    requires_action(12),
    succeeded(20),
    charge_succeeded(20),
    refunded(300, 30, previous=0),
    refunded(TOTAL, 40, previous=300),
    dispute_created(50),
    dispute_closed("lost", 60),
]
"""One payment's life: 3DS, a decline, 3DS again, success, two refunds, a lost dispute."""

SAME_SECOND = [requires_action(5), failed(5), succeeded(5), charge_succeeded(5)]


def deliver(events: list[StripeEventReceived]) -> Order:
    state = run([create()])
    state = run(events, state)
    assert state is not None
    return state


def on_stripe(state: Order, received: StripeEventReceived) -> tuple[Order, list[OrderFact]]:
    after, published = handle_stripe_event(state, received)
    assert after is not None
    return after, published


def outcome(state: Order) -> tuple[Any, ...]:
    return state.view(), timeline(state), state.facts


IN_ORDER = outcome(deliver(HISTORY))


@settings(max_examples=150, deadline=None)
@given(st.permutations(HISTORY), st.lists(st.sampled_from(HISTORY), max_size=6), st.randoms())
def test_any_delivery_order_with_duplicates_gives_the_in_order_result(
    shuffled: list[StripeEventReceived], extra: list[StripeEventReceived], rnd: Any
) -> None:
    deliveries = shuffled + extra
    rnd.shuffle(deliveries)
    assert outcome(deliver(deliveries)) == IN_ORDER


def test_every_permutation_of_same_second_events_agrees() -> None:
    expected = outcome(deliver(SAME_SECOND))
    for perm in itertools.permutations(SAME_SECOND):
        assert outcome(deliver(list(perm))) == expected
    state = deliver(SAME_SECOND)
    assert state.status == "paid" and state.payment.status == "captured"


def test_the_in_order_history_ends_where_it_should() -> None:
    state = deliver(HISTORY)
    assert state.status == "disputed"
    assert state.dispute is not None and state.dispute.outcome == "lost"
    assert state.refunded.amount == TOTAL and state.disputed.amount == TOTAL
    assert state.payment.processing_fee == 59 and state.payment.failures == 1
    kinds = [entry.kind for entry in timeline(state)]
    assert kinds == [
        "OrderCreated", "PaymentRequiresAuthentication", "PaymentFailed",
        "PaymentRequiresAuthentication", "PaymentCaptured", "ProcessingFeeRecorded",
        "RefundRecorded", "RefundRecorded", "DisputeOpened", "DisputeClosed",
    ]  # fmt: skip
    refunds = [e for e in timeline(state) if e.kind == "RefundRecorded"]
    assert [e.amount.amount for e in refunds if e.amount] == [300, TOTAL - 300]
    assert refunds[-1].to_status == "refunded"


def test_a_duplicate_event_changes_nothing_and_publishes_nothing() -> None:
    state = deliver([succeeded(20)])
    again, published = on_stripe(state, succeeded(20))
    assert again is state and published == []


def test_an_older_snapshot_does_not_undo_a_newer_one() -> None:
    # given the full refund applied first, when the older partial snapshot arrives
    state = deliver([succeeded(20), refunded(TOTAL, 40, previous=300)])
    later, published = on_stripe(state, refunded(300, 30, previous=0))
    # then the refunded total stays full and the order stays refunded
    assert later.status == "refunded" and later.refunded.amount == TOTAL
    assert [type(f).__name__ for f in published] == ["RefundRecorded"]
    # and a requires_action older than the success does not bring 3DS back
    later, _ = on_stripe(later, requires_action(15))
    assert later.payment.status == "captured" and later.status == "refunded"


def test_partial_refund_keeps_the_status_and_a_full_one_publishes_order_refunded() -> None:
    state = deliver([succeeded(20)])
    state, published = on_stripe(state, refunded(300, 30, previous=0))
    assert state.status == "paid" and state.refunded.amount == 300
    state, published = on_stripe(state, refunded(TOTAL, 40, previous=300))
    assert state.status == "refunded"
    assert [type(f) for f in published][-1] is OrderRefunded


def test_3ds_then_success() -> None:
    state = deliver([requires_action(10)])
    assert state.payment.status == "requires_authentication"
    assert state.payment.next_action is not None
    after = run([succeeded(20)], state)
    assert after is not None and after.status == "paid" and after.payment.next_action is None


def test_decline_then_retry_succeeds() -> None:
    state = deliver([failed(11)])
    assert state.status == "created" and state.payment.status == "failed"
    assert state.payment.decline_code == "insufficient_funds"
    after = run([succeeded(20)], state)
    assert after is not None and after.status == "paid"


def test_manual_capture_captures_on_fulfilment() -> None:
    # given an authorized manual-capture order
    state = run([create(capture="manual"), capturable(20)])
    assert state is not None and state.payment.status == "authorized" and state.status == "created"
    # when it is fulfilled, then a capture is requested with a stable idempotency key
    requested, published = handle_command(state, fulfil(second=21))
    assert requested is not None
    assert isinstance(published[0], CaptureRequested)
    assert published[0].idempotency_key == "orders:ord_1:capture:pi_1:cmd_fulfil"
    # when the capture's event arrives, then the order is paid and fulfilled
    captured = intent("succeeded", amount_received=TOTAL, amount_capturable=0)
    state, published = on_stripe(requested, event("payment_intent.succeeded", captured, 25))
    assert state is not None and state.status == "fulfilled"
    assert [type(f) for f in published] == [PaymentCaptured, OrderFulfilled]
    assert published[1].cause.id == "cmd_fulfil"
    entries = timeline(state)
    assert [(e.kind, e.from_status, e.to_status) for e in entries[-2:]] == [
        ("PaymentCaptured", "created", "paid"),
        ("OrderFulfilled", "paid", "fulfilled"),
    ]
    # and redelivering the derived OrderFulfilled changes nothing
    assert apply_facts(state, [published[1]]) == (state, [])


def test_a_lapsed_authorization_cancels_the_order() -> None:
    state = run([create(capture="manual"), capturable(20), pi_canceled(30)])
    assert state is not None and state.status == "canceled"
    assert state.payment.status == "canceled" and "authorization" in state.cancel_reason


def test_cancel_of_an_authorized_order_then_stripe_confirms() -> None:
    state = run([create(capture="manual"), capturable(20), cancel(second=21)])
    assert state is not None and state.status == "canceled"
    state = run([pi_canceled(30, reason="requested_by_customer")], state)
    assert state is not None and state.status == "canceled" and state.payment.status == "canceled"


def test_dispute_won_returns_to_the_status_before() -> None:
    state = order_in("fulfilled")
    state = run([dispute_created(50)], state)
    assert state is not None and state.status == "disputed"
    state = run([dispute_closed("won", 60)], state)
    assert state is not None and state.status == "fulfilled" and state.disputed.amount == 0


def test_a_closed_dispute_whose_opening_never_came() -> None:
    state = run([dispute_closed("lost", 60)], order_in("paid"))
    assert state is not None and state.status == "disputed" and state.dispute is not None


def test_a_cancel_that_raced_the_payment_leaves_a_refund_due() -> None:
    state = run([create(), cancel(second=1)])
    state = run([succeeded(0)], state)
    assert state is not None and state.status == "canceled" and state.refund_due


def test_actor_is_told_from_the_request() -> None:
    ours = {"id": "req_1", "idempotency_key": "orders:ord_1:refund:1"}
    dashboard = {"id": "req_2", "idempotency_key": "abc"}
    obj = intent("canceled")
    assert (
        translate(event("payment_intent.canceled", obj, 1, request=ours).event)[0].actor.kind
        == "api"
    )
    assert (
        translate(event("payment_intent.canceled", obj, 1, request=dashboard).event)[0].actor.kind
        == "operator"
    )
    assert translate(event("payment_intent.canceled", obj, 1).event)[0].actor.kind == "stripe"
    browser = {"id": "req_3", "idempotency_key": "stripe-js-1"}
    assert translate(succeeded().event | {"request": browser})[0].actor.kind == "buyer"


def test_unknown_types_and_foreign_objects_give_no_facts() -> None:
    assert translate(event("customer.created", {"id": "cus_1"}, 1).event) == []
    foreign = intent("succeeded", metadata={})
    assert translate(event("payment_intent.succeeded", foreign, 1).event) == []


def test_actual_fee_from_a_fetched_balance_transaction() -> None:
    state = deliver([succeeded(20), charge_succeeded(20, fee=None)])
    assert state.payment.processing_fee is None
    txn = {"id": "txn_1", "fee": 59, "currency": "usd", "created": 1_700_000_021}
    fact = processing_fee_recorded(
        state.order_id, "ch_1", txn, Cause(kind="stripe_event", id="evt_charge.succeeded_20")
    )
    after, published = apply_facts(state, [fact])
    assert after is not None and after.payment.processing_fee == 59 and len(published) == 1


def test_snapshot_round_trip() -> None:
    state = deliver(HISTORY)
    assert outcome(restore(snapshot(state))) == outcome(state)


CHECKOUT = [
    event(
        "checkout.session.completed",
        {
            "id": "cs_1",
            "object": "checkout.session",
            "payment_status": "paid",
            "payment_intent": "pi_1",
            "amount_total": TOTAL,
            "currency": "usd",
            "metadata": {"order_id": "ord_1"},
        },
        20,
    ),
    succeeded(20),
    charge_succeeded(21),
    dispute_created(50),
    dispute_closed("won", 60),
]


def test_every_permutation_of_a_checkout_payment_agrees() -> None:
    # given a Checkout payment that was disputed and won
    session = {"id": "cs_1", "currency": "usd", "amount_total": TOTAL, "created": 1_700_000_001}
    start = run([create()])
    assert start is not None
    start, _ = apply_facts(start, [checkout_session_created(start, session, "req_1", API)])
    assert start is not None
    # when its events arrive in any order, then state and timeline are the same
    expected = outcome(must(run(CHECKOUT, start)))
    for perm in itertools.permutations(CHECKOUT):
        assert outcome(must(run(list(perm), start))) == expected
    state = must(run(CHECKOUT, start))
    assert state.status == "paid" and state.payment.checkout_session_id == "cs_1"
    assert [e.text for e in timeline(state)][1:] == [
        "Checkout started",
        "Payment captured",
        "Processing fee recorded",
        "Dispute opened (fraudulent)",
        "Dispute closed: won",
    ]


def test_timeline_entries_name_cause_and_actor() -> None:
    ours = {"id": "req_9", "idempotency_key": "orders:ord_1:refund:1"}
    refund = event("charge.refunded", charge(amount_refunded=100), 30, request=ours)
    state = must(run([create(), succeeded(20), refund]))
    entry = timeline(state)[-1]
    assert entry.cause.kind == "stripe_event" and entry.cause.id == refund.event_id
    assert entry.actor.kind == "api" and entry.amount is not None and entry.amount.amount == 100
    assert entry.from_status == entry.to_status == "paid"
    first = timeline(state)[0]
    assert first.cause.kind == "command" and first.cause.id == "cmd_create"


def test_a_payment_intent_from_before_2022_11_15_still_names_its_charge() -> None:
    # given a PaymentIntent rendered in an API version that had a `charges` list instead of
    # `latest_charge` (and an expanded balance transaction on its charge)
    old_charge = charge(balance_transaction={"id": "txn_1", "fee": 59, "currency": "usd"})
    obj = intent(
        "succeeded", amount_received=TOTAL, charges={"object": "list", "data": [old_charge]}
    )
    received = event("payment_intent.succeeded", obj, 20)
    # then the capture knows its charge, and the fee is read from it
    state = deliver([received])
    assert state.status == "paid" and state.payment.charge_id == "ch_1"
    assert state.payment.processing_fee == 59
