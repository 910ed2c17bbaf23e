"""Fee arithmetic: parts add up exactly, nothing negative, every currency exponent right."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.contracts.orders_commands import LineItem, Shipping
from libs.common.fees import FeePolicy, Rate
from services.orders.fees import FeeBreakdown, Settled, compute, for_order

from .builders import order_in

CURRENCIES = ["usd", "eur", "jpy", "krw", "kwd", "bhd"]
SELLERS = ["s1", "s2", "s3", "s4"]

items_st = st.lists(
    st.builds(
        LineItem,
        sku=st.just("sku"),
        quantity=st.integers(1, 5),
        unit_amount=st.integers(0, 5_000_000),
        tax_amount=st.integers(0, 500_000),
        seller_id=st.sampled_from(SELLERS),
    ),
    min_size=1,
    max_size=6,
)
shipping_st = st.none() | st.builds(
    Shipping,
    amount=st.integers(0, 100_000),
    tax_amount=st.integers(0, 10_000),
    seller_id=st.none() | st.sampled_from(SELLERS),
)


@st.composite
def rates(draw: st.DrawFn) -> Rate:
    minimum = draw(st.integers(0, 2_000))
    maximum = draw(st.none() | st.integers(minimum, 1_000_000))
    return Rate(bps=draw(st.integers(0, 10_000)), fixed=draw(st.integers(0, 500)),
                minimum=minimum, maximum=maximum)  # fmt: skip


@st.composite
def policies(draw: st.DrawFn) -> FeePolicy:
    return FeePolicy(
        marketplace={"default": draw(rates())},
        processing={"default": draw(rates())},
        processing_fee_bearer=draw(st.sampled_from(["platform", "seller"])),
    )


def check_adds_up(b: FeeBreakdown, items: list[LineItem], shipping: Shipping | None) -> None:
    expected_total = sum(i.total for i in items) + (shipping.total if shipping else 0)
    assert b.total == expected_total == b.items_subtotal + b.tax + b.shipping
    assert sum(s.gross for s in b.sellers) == b.total
    assert sum(s.marketplace_fee for s in b.sellers) == b.marketplace_fee
    assert sum(s.processing_fee for s in b.sellers) == b.processing_fee_sellers
    assert sum(s.returned for s in b.sellers) == b.returned <= b.total
    net = sum(s.net for s in b.sellers)
    assert b.total == b.returned + b.marketplace_fee + b.processing_fee_sellers + net
    if b.settlement_currency == b.currency:
        received = b.marketplace_fee + b.processing_fee_sellers
        assert [(a.amount, a.currency) for a in b.platform_net] == [
            (received - b.processing_fee.amount, b.currency)
        ]
    for s in b.sellers:
        assert s.gross == s.items_subtotal + s.tax + s.shipping
        assert s.gross == s.returned + s.net + s.marketplace_fee + s.processing_fee
        assert min(s.items_subtotal, s.tax, s.shipping, s.marketplace_fee, s.processing_fee) >= 0
        assert 0 <= s.returned <= s.gross
        if s.returned == 0:
            assert s.net >= 0
    assert min(b.processing_fee.amount, b.marketplace_fee) >= 0
    assert sorted(s.seller_id for s in b.sellers) == sorted({i.seller_id for i in items})


@settings(max_examples=300, deadline=None)
@given(
    items_st,
    shipping_st,
    policies(),
    st.sampled_from(CURRENCIES),
    st.none() | st.integers(0, 10_000_000),
)
def test_parts_add_up_and_nothing_is_negative(
    items: list[LineItem], shipping: Shipping | None, policy: FeePolicy, currency: str,
    actual: int | None,
) -> None:  # fmt: skip
    b = compute(currency, items, shipping, policy, Settled(fee=actual))
    check_adds_up(b, items, shipping)
    assert b.processing_fee.currency == currency
    assert b.processing_fee_estimated == (actual is None)
    if policy.processing_fee_bearer == "platform":
        assert all(s.processing_fee == 0 for s in b.sellers)


@settings(max_examples=200, deadline=None)
@given(items_st, shipping_st, policies(), st.sampled_from(CURRENCIES))
def test_marketplace_fee_respects_min_and_max(
    items: list[LineItem], shipping: Shipping | None, policy: FeePolicy, currency: str
) -> None:
    rate = policy.marketplace_rate(currency)
    for s in compute(currency, items, shipping, policy).sellers:
        if s.items_subtotal == 0:
            assert s.marketplace_fee == 0
            continue
        if rate.maximum is not None:
            assert s.marketplace_fee <= rate.maximum
        # the minimum holds unless the seller grosses less than it
        assert s.marketplace_fee >= min(rate.minimum, s.gross)


@settings(max_examples=100, deadline=None)
@given(items_st, st.integers(1, 100_000), st.sampled_from(CURRENCIES))
def test_shipping_goes_to_the_named_seller(items: list[LineItem], amount: int, cur: str) -> None:
    seller = items[0].seller_id
    b = compute(cur, items, Shipping(amount=amount, seller_id=seller), FeePolicy())
    assert {s.seller_id: s.shipping for s in b.sellers if s.shipping} == {seller: amount}


def test_shipping_split_by_subtotal_with_largest_remainder() -> None:
    items = [
        LineItem(sku="a", quantity=1, unit_amount=100, seller_id="s1"),
        LineItem(sku="b", quantity=1, unit_amount=100, seller_id="s2"),
        LineItem(sku="c", quantity=1, unit_amount=100, seller_id="s3"),
    ]
    b = compute("usd", items, Shipping(amount=100), FeePolicy())
    assert [s.shipping for s in b.sellers] == [34, 33, 33]


def test_zero_decimal_currency() -> None:
    # given 1,000 JPY sold by one seller, 10 % marketplace fee, 3.6 % processing borne by seller
    policy = FeePolicy(
        marketplace={"default": Rate(bps=1000)},
        processing={"jpy": Rate(bps=360)},
        processing_fee_bearer="seller",
    )
    items = [LineItem(sku="a", quantity=1, unit_amount=1000, seller_id="s1")]
    b = compute("JPY", items, None, policy)
    assert (b.exponent, b.marketplace_fee, b.processing_fee.amount) == (0, 100, 36)
    assert b.sellers[0].net == 864


def test_three_decimal_currency_rounds_half_up() -> None:
    # given 1.500 KWD (1,500 fils): 2.9 % is 43.5 fils -> 44, plus 30 fils fixed
    policy = FeePolicy(processing={"kwd": Rate(bps=290, fixed=30)}, processing_fee_bearer="seller")
    items = [LineItem(sku="a", quantity=1, unit_amount=1500, seller_id="s1")]
    b = compute("kwd", items, None, policy)
    assert (b.exponent, b.processing_fee.amount, b.marketplace_fee) == (3, 74, 150)
    assert b.sellers[0].net == 1500 - 150 - 74


def test_min_and_max_clamp() -> None:
    rate = Rate(bps=1000, fixed=0, minimum=50, maximum=500)
    assert (rate.fee(100), rate.fee(2_000), rate.fee(100_000)) == (50, 200, 500)


def test_actual_fee_replaces_the_estimate_on_an_order() -> None:
    paid = order_in("paid")
    assert paid is not None
    estimate = for_order(paid, FeePolicy())
    assert (
        estimate.processing_fee_estimated and estimate.processing_fee.amount == 59
    )  # 2.9 % of 10.00 + 0.30
    assert estimate.total == paid.total.amount


@settings(max_examples=300, deadline=None)
@given(
    items_st,
    shipping_st,
    policies(),
    st.sampled_from(["kept", "returned"]),
    st.sampled_from(CURRENCIES),
    st.lists(st.integers(0, 3_000_000), max_size=4),
    st.integers(0, 2_000_000),
)
def test_parts_add_up_after_any_refunds_and_disputes(
    items: list[LineItem], shipping: Shipping | None, policy: FeePolicy, on_refund: str,
    currency: str, refunds: list[int], disputed: int,
) -> None:  # fmt: skip
    policy = policy.model_copy(update={"marketplace_fee_on_refund": on_refund})
    settled = Settled(fee=None, refunded=sum(refunds), disputed=disputed)
    b = compute(currency, items, shipping, policy, settled)
    check_adds_up(b, items, shipping)
    before = compute(currency, items, shipping, policy)
    assert b.returned == min(sum(refunds) + disputed, b.total)
    if on_refund == "kept":
        assert b.marketplace_fee == before.marketplace_fee
    else:
        assert b.marketplace_fee <= before.marketplace_fee


def two_sellers() -> list[LineItem]:
    return [
        LineItem(sku="a", quantity=1, unit_amount=3000, seller_id="s1"),
        LineItem(sku="b", quantity=1, unit_amount=1000, seller_id="s2"),
    ]


def test_a_partial_refund_with_the_marketplace_fee_returned() -> None:
    # given 40.00 USD from two sellers (30 + 10), 10 % fee, and 20.00 refunded
    policy = FeePolicy(marketplace_fee_on_refund="returned")
    b = compute("usd", two_sellers(), None, policy, Settled(fee=146, refunded=2000))
    assert [s.returned for s in b.sellers] == [1500, 500]
    assert [s.marketplace_fee for s in b.sellers] == [150, 50]  # half of 300 and of 100
    assert [s.net for s in b.sellers] == [1350, 450]
    assert [(a.amount, a.currency) for a in b.platform_net] == [(200 - 146, "usd")]


def test_a_full_refund_with_the_fee_kept_leaves_sellers_owing_it() -> None:
    b = compute("usd", two_sellers(), None, FeePolicy(), Settled(fee=146, refunded=4000))
    assert [s.net for s in b.sellers] == [-300, -100]
    assert b.marketplace_fee == 400 and b.returned == 4000


def test_a_lost_dispute_counts_as_returned() -> None:
    b = compute("usd", two_sellers(), None, FeePolicy(), Settled(fee=146, disputed=4000))
    assert b.disputed == 4000 and b.returned == 4000
    assert sum(s.net for s in b.sellers) == -400


def test_a_fee_settled_in_another_currency_is_stated_in_it() -> None:
    # given a 40.00 EUR order whose charge Stripe settled in USD at 1.1 (fee 1.57 USD)
    settled = Settled(fee=157, fee_currency="usd", exchange_rate="1.1")
    platform = compute("eur", two_sellers(), None, FeePolicy(), settled)
    assert platform.processing_fee.model_dump() == {"amount": 157, "currency": "usd"}
    assert (platform.settlement_currency, platform.exchange_rate) == ("usd", "1.1")
    assert [(a.amount, a.currency) for a in platform.platform_net] == [(400, "eur"), (-157, "usd")]
    # and when sellers bear it, their shares are the fee in EUR: 1.57 / 1.1 = 1.43 (half up)
    bearer = FeePolicy(processing_fee_bearer="seller")
    sellers = compute("eur", two_sellers(), None, bearer, settled)
    assert sellers.processing_fee_sellers == 143
    assert [s.processing_fee for s in sellers.sellers] == [107, 36]
    assert [(a.amount, a.currency) for a in sellers.platform_net] == [(543, "eur"), (-157, "usd")]


def test_refunds_and_disputes_reach_the_order_breakdown() -> None:
    refunded = order_in("refunded")
    assert refunded is not None
    b = for_order(refunded, FeePolicy())
    assert b.refunded == refunded.refunded.amount == b.returned == b.total
