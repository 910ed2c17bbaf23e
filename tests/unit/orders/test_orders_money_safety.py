"""Canceled means not charged, paid means paid in full, one fact per change: the domain rules."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.contracts.orders_events import (
    AuthorizationCancelRequested,
    CaptureFailed,
    CaptureRequested,
    Cause,
    CheckoutSessionExpireRequested,
    OrderFact,
    PaymentAmountMismatch,
    PaymentCaptured,
    PaymentObserved,
    PaymentRefreshRequested,
    ProcessingFeeRecorded,
    RefundRequested,
)
from libs.common.contracts.stripe_events import StripeEventReceived
from services.orders.domain import identity
from services.orders.domain.aggregate import (
    apply_facts,
    checkout_session_created,
    handle_command,
    handle_stripe_event,
    payment_intent_created,
    processing_fee_recorded,
)
from services.orders.domain.reactions import Policy
from services.orders.domain.state import Order
from services.orders.domain.timeline import timeline
from services.orders.handlers import Batch

from .builders import (
    API,
    TOTAL,
    at,
    cancel,
    capturable,
    charge,
    charge_succeeded,
    create,
    event,
    failed,
    fulfil,
    intent,
    must,
    refunded,
    requires_action,
    run,
    succeeded,
)


def publish(
    state: Order | None, messages: list[Any], policy: Policy | None = None
) -> list[OrderFact]:
    policy = policy or Policy()
    out: list[OrderFact] = []
    for message in messages:
        if isinstance(message, StripeEventReceived):
            state, facts = handle_stripe_event(state, message, policy)
        else:
            state, facts = handle_command(state, message, policy)
        out.extend(facts)
    return out


def checkout_completed(second: int, pi: str = "pi_1", amount: int = TOTAL) -> StripeEventReceived:
    session = {
        "id": "cs_1", "object": "checkout.session", "currency": "usd", "amount_total": amount,
        "payment_status": "paid", "payment_intent": pi, "metadata": {"order_id": "ord_1"},
    }  # fmt: skip
    return event("checkout.session.completed", session, second)


def captured_by(pi: str, second: int, amount: int = TOTAL, currency: str = "usd") -> Any:
    obj = intent(
        "succeeded", id=pi, amount=amount, amount_received=amount, currency=currency,
        latest_charge=f"ch_{pi}",
    )  # fmt: skip
    return event("payment_intent.succeeded", obj, second, event_id=f"evt_{pi}_{second}")


TELLINGS = [succeeded(20), charge_succeeded(20, fee=None), checkout_completed(21)]


def test_one_capture_told_three_times_is_published_once() -> None:
    # given a paid order whose capture Stripe tells by three events, in every order
    for perm in itertools.permutations(TELLINGS):
        facts = publish(None, [create(), *perm])
        # then exactly one PaymentCaptured is published, under a stable fact id
        captures = [f for f in facts if isinstance(f, PaymentCaptured)]
        assert len(captures) == 1
        assert captures[0].fact_id == identity.fact_id(captures[0])
    # and every permutation ends in the same order
    outcomes = {
        repr(must(run([create(), *perm])).view()) for perm in itertools.permutations(TELLINGS)
    }
    assert len(outcomes) == 1


def test_a_fee_in_the_event_is_its_own_fact_told_once() -> None:
    facts = publish(None, [create(), succeeded(20), charge_succeeded(20, fee=59)])
    fees = [f for f in facts if isinstance(f, ProcessingFeeRecorded)]
    assert len(fees) == 1 and fees[0].fee == 59
    again = publish(run([create(), succeeded(20), charge_succeeded(20, fee=59)]), [])
    assert again == []


def test_the_earliest_telling_is_kept_whichever_arrives_first() -> None:
    late_first = must(run([create(), checkout_completed(22), succeeded(20)]))
    in_order = must(run([create(), succeeded(20), checkout_completed(22)]))
    assert late_first.facts == in_order.facts
    assert late_first.seen == in_order.seen


def test_fact_ids_are_the_same_for_the_same_change_and_differ_between_changes() -> None:
    one = publish(None, [create(), succeeded(20)])
    two = publish(None, [create(), charge_succeeded(21, fee=None)])
    capture = next(f for f in one if isinstance(f, PaymentCaptured))
    other = next(f for f in two if isinstance(f, PaymentCaptured))
    assert capture.fact_id == other.fact_id
    assert len({f.fact_id for f in one}) == len(one)


def test_cancel_asks_stripe_to_close_every_open_attempt() -> None:
    # given an order with a PaymentIntent and a Checkout Session started
    state = must(run([create()]))
    pi = {"id": "pi_1", "currency": "usd", "amount": TOTAL, "created": 1_700_000_001}
    cs = {"id": "cs_1", "currency": "usd", "amount_total": TOTAL, "created": 1_700_000_002}
    state = must(apply_facts(state, [payment_intent_created(state, pi, "req_1", API)])[0])
    state = must(apply_facts(state, [checkout_session_created(state, cs, "req_2", API)])[0])
    # when it is canceled
    _, facts = handle_command(state, cancel(second=3))
    # then the intent is canceled and the session expired at Stripe
    kinds = {type(f) for f in facts}
    assert {AuthorizationCancelRequested, CheckoutSessionExpireRequested} <= kinds


def test_a_payment_that_won_the_race_with_a_cancel_is_refunded_once() -> None:
    # given a canceled order
    state = run([create(), cancel(second=1)])
    # when its payment succeeds anyway, told twice
    facts = publish(state, [succeeded(2), charge_succeeded(2, fee=None)])
    refunds = [f for f in facts if isinstance(f, RefundRequested)]
    assert len(refunds) == 1
    assert (refunds[0].amount, refunds[0].reason) == (TOTAL, "order_canceled")
    # and once Stripe reports the refund, nothing more is asked for and the order stays canceled
    after = must(run([succeeded(2), refunded(TOTAL, 5)], state))
    assert after.status == "canceled" and after.refundable.is_zero
    assert "Automatic refund requested: the order was canceled" in [e.text for e in timeline(after)]


def test_a_capture_that_sorts_before_the_cancel_is_refunded_too() -> None:
    state = run([create(), cancel(second=5)])
    facts = publish(state, [succeeded(3)])
    assert [f.reason for f in facts if isinstance(f, RefundRequested)] == ["order_canceled"]


def test_paid_only_when_the_capture_equals_the_total() -> None:
    short = must(run([create(), captured_by("pi_1", 20, amount=TOTAL - 1)]))
    assert short.status == "created"
    facts = publish(None, [create(), captured_by("pi_1", 20, amount=TOTAL - 1)])
    mismatch = [f for f in facts if isinstance(f, PaymentAmountMismatch)]
    assert [(m.kind, m.expected_amount, m.actual_amount) for m in mismatch] == [
        ("short", TOTAL, TOTAL - 1)
    ]
    over = publish(None, [create(), captured_by("pi_1", 20, amount=TOTAL + 1)])
    assert [f.kind for f in over if isinstance(f, PaymentAmountMismatch)] == ["over"]
    assert must(run([create(), captured_by("pi_1", 20, amount=TOTAL + 1)])).status == "created"


def test_a_capture_in_another_currency_does_not_pay_the_order() -> None:
    state = must(run([create(), captured_by("pi_1", 20, currency="eur")]))
    assert state.status == "created" and state.captured.is_zero
    facts = publish(None, [create(), captured_by("pi_1", 20, currency="eur")])
    assert [f.kind for f in facts if isinstance(f, PaymentAmountMismatch)] == ["currency"]


def test_a_second_payment_is_a_mismatch_and_its_surplus_is_refunded() -> None:
    facts = publish(None, [create(), captured_by("pi_1", 20), captured_by("pi_2", 21)])
    mismatch = [f for f in facts if isinstance(f, PaymentAmountMismatch)]
    assert [(m.kind, m.payment_intent_id) for m in mismatch] == [("second_payment", "pi_2")]
    refunds = [f for f in facts if isinstance(f, RefundRequested)]
    assert [(r.payment_intent_id, r.amount, r.reason) for r in refunds] == [
        ("pi_2", TOTAL, "surplus_payment")
    ]
    kept = publish(
        None, [create(), captured_by("pi_1", 20), captured_by("pi_2", 21)], Policy(False)
    )
    assert not any(isinstance(f, RefundRequested) for f in kept)
    assert must(run([create(), captured_by("pi_1", 20), captured_by("pi_2", 21)])).status == "paid"


@settings(max_examples=20, deadline=None)
@given(st.permutations([captured_by("pi_1", 20), captured_by("pi_2", 21), succeeded(20)]))
def test_which_payment_is_refunded_does_not_depend_on_delivery_order(order: list[Any]) -> None:
    state = must(run([create(), *order]))
    refunds = [f for f in state.facts if isinstance(f, RefundRequested)]
    assert [r.payment_intent_id for r in refunds] == ["pi_2"]


def test_a_refused_capture_lets_the_next_fulfilment_try_again() -> None:
    # given an authorized order whose fulfilment asked for a capture
    state = must(run([create(capture="manual"), capturable(20)]))
    state, facts = handle_command(state, fulfil(second=21))
    first = next(f for f in facts if isinstance(f, CaptureRequested))
    # when Stripe refuses the capture
    failed = CaptureFailed(
        order_id="ord_1", cause=first.cause, actor=first.actor, occurred_at=at(22),
        payment_intent_id="pi_1", code="payment_intent_unexpected_state", message="no",
    )  # fmt: skip
    state, published = apply_facts(state, [failed])
    state = must(state)
    assert state.pending_fulfilment is None and len(published) == 1
    # then the next fulfilment asks again, with a key Stripe has not answered yet
    _, again = handle_command(state, fulfil("cmd_fulfil_2", second=23))
    retry = next(f for f in again if isinstance(f, CaptureRequested))
    assert retry.idempotency_key != first.idempotency_key
    assert "Capture refused by Stripe" in timeline(state)[-1].text


def test_identity_ignores_who_told_and_keeps_decisions_apart() -> None:
    capture = PaymentCaptured(
        order_id="o", cause=Cause(kind="stripe_event", id="evt_a"), actor=API, occurred_at=at(1),
        currency="usd", payment_intent_id="pi_1", amount=5,
    )  # fmt: skip
    retold = capture.model_copy(update={"cause": Cause(kind="stripe_event", id="evt_b")})
    assert identity.fact_id(capture) == identity.fact_id(retold)
    more = capture.model_copy(update={"amount": 6})
    assert identity.fact_id(capture) != identity.fact_id(more)
    assert charge()["id"] == "ch_1"  # the builders' charge is the one the intent names


def test_same_second_status_events_ask_for_stripe_s_current_state() -> None:
    # given a decline and a new 3-D Secure challenge of one PaymentIntent in the same second
    # (the rank guesses the challenge came first, so the order would show the decline)
    state = must(run([create(), requires_action(5), failed(5)]))
    assert state.payment.status == "failed"
    refresh = [f for f in state.facts if isinstance(f, PaymentRefreshRequested)]
    assert [(r.payment_intent_id, r.second) for r in refresh] == [("pi_1", at(5))]
    # when Stripe, read again, says the buyer is being challenged
    now = PaymentObserved(
        order_id="ord_1", cause=Cause(kind="api_request", id="refresh-1"), actor=API,
        occurred_at=at(7), currency="usd", payment_intent_id="pi_1", status="requires_action",
        next_action={"type": "use_stripe_sdk"},
    )  # fmt: skip
    after = must(apply_facts(state, [now])[0])
    # then the order shows Stripe's state, not the guess
    assert after.payment.status == "requires_authentication"
    assert after.payment.next_action == {"type": "use_stripe_sdk"}
    # and a capture Stripe reports later still wins over the observation
    paid = must(run([succeeded(9)], after))
    assert paid.status == "paid" and paid.payment.status == "captured"


def test_events_in_different_seconds_need_no_refresh() -> None:
    state = must(run([create(), requires_action(5), failed(6)]))
    assert not any(isinstance(f, PaymentRefreshRequested) for f in state.facts)


def test_the_refresh_request_is_the_same_in_every_delivery_order() -> None:
    events = [requires_action(5), failed(5), succeeded(5)]
    expected = must(run([create(), *events])).facts
    for perm in itertools.permutations(events):
        assert must(run([create(), *perm])).facts == expected


def test_every_published_fact_carries_its_id_rejections_too() -> None:
    facts = publish(None, [create(), succeeded(20), fulfil(second=21), fulfil("again", 22)])
    assert facts and all(f.fact_id == identity.fact_id(f) for f in facts)
    assert any(f.type == "CommandRejected" for f in facts)


def test_an_attempt_the_order_learns_of_after_its_cancel_is_closed_too() -> None:
    # given a canceled order, then the fact of a Checkout Session started just before the
    # cancel (the API's fact reached the worker after the command)
    state = must(run([create(), cancel(second=3)]))
    cs = {"id": "cs_late", "currency": "usd", "amount_total": TOTAL, "created": 1_700_000_002}
    after, published = apply_facts(state, [checkout_session_created(state, cs, "req_1", API)])
    # then the session is expired at Stripe, caused by the cancel
    expire = [f for f in published if isinstance(f, CheckoutSessionExpireRequested)]
    assert [(f.checkout_session_id, f.cause.id) for f in expire] == [("cs_late", "cmd_cancel")]
    assert must(after).status == "canceled"


def test_an_earlier_telling_that_replaces_a_fact_is_kept_by_the_batch() -> None:
    # given a paid order whose fee came from our own look-up first
    state = must(run([create(), succeeded(20)]))
    txn = {"id": "txn_1", "fee": 59, "currency": "usd", "created": 1_700_000_021}
    lookup = Cause(kind="api_request", id="fee-lookup-ch_1")
    state = must(apply_facts(state, [processing_fee_recorded("ord_1", "ch_1", txn, lookup)])[0])
    # when the same fee arrives as told by the capture's event (it sorts first)
    told = Cause(kind="stripe_event", id="evt_1")
    after, published = apply_facts(state, [processing_fee_recorded("ord_1", "ch_1", txn, told)])
    assert published == [] and after is not state
    # then the batch keeps the new state, and the replaced fact is among what it writes
    batch = Batch()
    batch.add("ord_1", state, after, published, "evt_1")
    kept, _ = batch.orders["ord_1"]
    assert kept is after
    written = [must(after).facts[at] for at in batch.new_facts(must(after))]
    assert [f.cause for f in written if isinstance(f, ProcessingFeeRecorded)] == [told]
