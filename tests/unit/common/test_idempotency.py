"""Idempotency keys: deterministic, ours, within Stripe's 255 characters and safe in a header
whatever the order id, and never shared by two different calls."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from libs.common.idempotency import MAX_LENGTH, PREFIX, idempotency_key, is_ours
from services.orders.domain import idempotency as domain_keys

ids = st.text(min_size=1, max_size=2000)
parts = st.lists(st.text(min_size=1, max_size=300), max_size=3)
# A small alphabet with the separators, so that ambiguous joins are actually tried.
tricky = st.text(alphabet="a:~_", min_size=1, max_size=6)


def test_a_plain_key_is_readable() -> None:
    assert idempotency_key("ord_1", "capture", "pi_9") == "orders:ord_1:capture:pi_9"
    assert idempotency_key("ord_1", "payment-intent", "2") == "orders:ord_1:payment-intent:2"


@given(ids, st.sampled_from(["payment-intent", "capture", "cancel", "refund"]), parts)
def test_every_key_is_bounded_ours_deterministic_and_header_safe(
    order_id: str, operation: str, legs: list[str]
) -> None:
    key = idempotency_key(order_id, operation, *legs)
    assert len(key) <= MAX_LENGTH
    assert key.startswith(PREFIX) and is_ours(key)
    assert key == idempotency_key(order_id, operation, *legs)
    assert key.isascii() and key.isprintable()


@given(st.text(alphabet="abc123", min_size=250, max_size=3000))
def test_a_long_id_keeps_a_recognisable_head(order_id: str) -> None:
    key = idempotency_key(order_id, "capture", "pi_1")
    assert len(key) == MAX_LENGTH
    assert key.startswith(PREFIX + order_id[:100])


@given(st.lists(tricky, min_size=2, max_size=4), st.lists(tricky, min_size=2, max_size=4))
def test_different_calls_never_share_a_key(first: list[str], second: list[str]) -> None:
    if first != second:
        assert idempotency_key(*first) != idempotency_key(*second)


def test_keys_from_before_and_from_others() -> None:
    assert is_ours("order-ord_1-payment-intent")
    assert not is_ours("stripe-js-1") and not is_ours(None) and not is_ours("")


def test_the_domain_uses_the_shared_derivation() -> None:
    assert domain_keys.idempotency_key is idempotency_key
    assert domain_keys.is_ours is is_ours
