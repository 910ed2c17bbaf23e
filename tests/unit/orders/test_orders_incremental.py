"""The worker's shortcuts give what the long way gives: a late fact re-applies only the facts
after it, and facts are encoded once per order, yet state, timeline and bytes are the same as
a fold from scratch."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.contracts.stripe_events import StripeEventReceived
from services.orders.domain.aggregate import (
    FactsJson,
    fact_json,
    from_facts,
    from_facts_json,
    handle_stripe_event,
    restore,
    snapshot,
    snapshot_json,
)
from services.orders.domain.evolve import fold, sort_key
from services.orders.domain.state import Order
from services.orders.domain.timeline import timeline

from .builders import (
    TOTAL,
    charge_succeeded,
    create,
    dispute_created,
    failed,
    refunded,
    requires_action,
    run,
    succeeded,
)

EVENTS = [
    requires_action(10),
    failed(11),
    requires_action(11),
    succeeded(20),
    charge_succeeded(20),
    refunded(300, 30, previous=0),
    refunded(TOTAL, 31, previous=300),
    dispute_created(40),
]


def created() -> Order:
    state = run([create()])
    assert state is not None
    return state


def each_step(events: list[StripeEventReceived]) -> list[Order]:
    state, states = created(), []
    for received in events:
        after, _ = handle_stripe_event(state, received)
        assert after is not None
        state = after
        states.append(state)
    return states


@settings(max_examples=100, deadline=None)
@given(st.permutations(EVENTS))
def test_every_intermediate_order_equals_a_fold_from_scratch(
    shuffled: list[StripeEventReceived],
) -> None:
    for state in each_step(shuffled):
        scratch = fold(sorted(state.facts, key=sort_key))
        assert state.view() == scratch.view()
        assert [s.view() for s in state.steps] == [s.view() for s in scratch.steps]
        assert timeline(state) == timeline(scratch)
        assert state.keys == scratch.keys and state.seen == scratch.seen


def test_steps_hold_no_history_of_their_own() -> None:
    state = each_step(EVENTS)[-1]
    assert len(state.steps) == len(state.facts)
    assert all(s.facts == () and s.steps == () and not s.keys for s in state.steps)


@settings(max_examples=50, deadline=None)
@given(st.permutations(EVENTS))
def test_cached_fact_json_is_the_json_of_each_fact(shuffled: list[StripeEventReceived]) -> None:
    cache = FactsJson(size=1)
    for state in each_step(shuffled):
        encoded = cache.encode(state)
        assert encoded == [fact_json(fact) for fact in state.facts]
        assert snapshot_json(state.order_id, encoded) == snapshot(state)


def test_an_evicted_order_is_encoded_again() -> None:
    cache = FactsJson(size=1)
    first, other = each_step(EVENTS[:3])[-1], created()
    cache.encode(first)
    cache.encode(dataclasses.replace(other, order_id="ord_other"))
    assert cache.encode(first) == [fact_json(fact) for fact in first.facts]


def test_facts_in_any_order_and_repeated_give_the_same_order() -> None:
    state = each_step(EVENTS)[-1]
    scrambled = [*reversed(state.facts), *state.facts[:3]]
    again = from_facts(scrambled)
    assert again.view() == state.view() and again.facts == state.facts
    texts = [fact_json(fact).decode() for fact in scrambled]
    assert from_facts_json(texts).view() == state.view()
    assert restore(snapshot(state)).view() == state.view()
