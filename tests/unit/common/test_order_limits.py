"""CreateOrder refuses, with a reason, what Stripe could not charge or the worker not store."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from libs.common.contracts.orders_commands import CreateOrder
from libs.common.contracts.orders_events import PaymentCanceled, PaymentFailed
from libs.common.currencies import MAX_SAFE_INTEGER
from libs.common.text import clean_text


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "command_id": "cmd_1",
        "order_id": "ord_1",
        "actor": {"kind": "api", "id": "backend"},
        "buyer": {"id": "b1", "email": "ann@example.com", "name": "Ann"},
        "currency": "usd",
        "items": [{"sku": "a", "quantity": 1, "unit_amount": 1000, "seller_id": "s1"}],
    }
    return base | changes


def item(**changes: Any) -> dict[str, Any]:
    return {"sku": "a", "quantity": 1, "unit_amount": 1000, "seller_id": "s1"} | changes


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        CreateOrder.model_validate(data)
    return str(info.value)


def test_a_valid_order_passes() -> None:
    assert CreateOrder.model_validate(body()).total == 1000


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"currency": "xyz"}, "XYZ is not a currency Stripe charges in"),
        ({"currency": "dollars"}, "not an ISO 4217 currency code"),
        ({"items": [item(unit_amount=100_000_000)]}, "items[0].unit_amount 100000000 is over"),
        ({"items": [item(tax_amount=100_000_000)]}, "items[0].tax_amount 100000000 is over"),
        ({"shipping": {"amount": 10**8}}, "shipping.amount 100000000 is over Stripe's maximum"),
        ({"items": [item(unit_amount=10**7, quantity=10)]}, "items[0] total"),
        ({"items": [item(unit_amount=9 * 10**7), item(unit_amount=9 * 10**7)]}, "order total"),
        ({"items": [item(unit_amount=49)]}, "below Stripe's minimum charge of 50 minor units"),
        ({"currency": "jpy", "items": [item(unit_amount=49)]}, "minimum charge of 50"),
        ({"currency": "kwd", "items": [item(unit_amount=1505)]}, "must be a multiple of 10"),
        ({"currency": "isk", "items": [item(unit_amount=150)]}, "must be a multiple of 100"),
        ({"items": [item(quantity=0)]}, "greater than or equal to 1"),
        ({"items": [item(quantity=10**7)]}, "less than or equal to 1000000"),
        ({"items": [item(unit_amount=2**70)]}, "is over Stripe's maximum"),
        ({"order_id": "ord\x00"}, "contains NUL at position 3"),
        ({"order_id": "o" * 256}, "at most 255 characters"),
        ({"items": [item(description="bad\ud800")]}, "Input should be a valid string"),
        ({"buyer": {"id": "b", "email": "a\x00@example.com"}}, "not an email address"),
        ({"buyer": {"id": "b", "email": "a" * 600 + "@example.com"}}, "512 characters"),
        ({"shipping": {"amount": 0, "address": {"line1": "x\x00"}}}, "contains NUL"),
        ({"shipping": {"amount": 0, "address": {f"k{i}": "v" for i in range(11)}}}, "at most 10"),
        ({"actor": {"kind": "api", "id": "\x00"}}, "contains NUL"),
    ],
)
def test_refused_with_a_reason(changes: dict[str, Any], reason: str) -> None:
    assert reason in refused(body(**changes))


def test_idr_takes_twelve_digits() -> None:
    big = body(currency="idr", items=[item(unit_amount=999_999_999_999)])
    assert CreateOrder.model_validate(big).total == 999_999_999_999
    assert "is over" in refused(body(currency="idr", items=[item(unit_amount=10**12)]))


def test_kwd_amounts_ending_in_zero_pass() -> None:
    order = body(currency="kwd", items=[item(unit_amount=1500, tax_amount=70)])
    assert CreateOrder.model_validate(order).total == 1570


@given(
    st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 1000)), min_size=1, max_size=5),
    st.sampled_from(["usd", "jpy", "kwd", "idr"]),
)
def test_an_accepted_order_is_chargeable(lines: list[tuple[int, int]], code: str) -> None:
    data = body(currency=code, items=[item(unit_amount=u, quantity=q) for u, q in lines])
    try:
        order = CreateOrder.model_validate(data)
    except ValidationError:
        return
    assert order.total <= min(999_999_999_999 if code == "idr" else 99_999_999, MAX_SAFE_INTEGER)
    assert order.total >= (50 if code in ("usd", "jpy") else 0)
    if code == "kwd":
        assert order.total % 10 == 0


@given(st.text())
def test_clean_text_is_always_storable(value: str) -> None:
    cleaned = clean_text(value)
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # no unpaired surrogate left
    assert len(cleaned) == len(value)


def test_stripe_text_is_cleaned_not_refused() -> None:
    base = {
        "order_id": "ord_1",
        "cause": {"kind": "stripe_event", "id": "evt_1"},
        "actor": {"kind": "stripe"},
        "occurred_at": "2024-01-01T00:00:00Z",
        "payment_intent_id": "pi_1",
    }
    failed = PaymentFailed.model_validate(base | {"message": "de\x00cl\ud800ined"})
    assert failed.message == "de\ufffdcl\ufffdined"
    canceled = PaymentCanceled.model_validate(base | {"cancellation_reason": "x\x00"})
    assert canceled.cancellation_reason == "x\ufffd"


def test_unstorable_names_the_character() -> None:
    from libs.common.text import unstorable

    assert unstorable("ok") is None
    assert unstorable("a\ud800") == "contains an unpaired surrogate U+D800 at position 1"
