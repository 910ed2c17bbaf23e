"""Fee arithmetic for an order, exact in integer minor units, and its breakdown for the UI.

Rules (each chosen so that the parts always add up to what the buyer paid):
- Rates and the policy are `libs.common.fees`': a currency's own rate is in its minor units,
  the `default` one is scaled to the currency's exponent.
- Marketplace fee: per seller, on the seller's item subtotal (tax and shipping excluded);
  a seller with nothing to sell pays nothing, and no fee exceeds what the seller grosses.
- Taxes pass through to the seller, who is the merchant of record for them.
- Shipping (and its tax) goes to `shipping.seller_id` when that seller is on the order;
  otherwise it is split in proportion to the sellers' item subtotals (equally when all are
  zero) by `Money.allocate`: largest remainder, ties to the seller listed first.
- Processing fee: Stripe's actual fee from the balance transaction once known, else an
  estimate from the processing rate on the order total; never more than the total. When
  `processing_fee_bearer` is "seller" it is split in proportion to the sellers' gross, each
  share capped at what the seller has left after the marketplace fee; the platform bears
  the rest (all of it when the bearer is "platform").
- Per seller: gross = items + tax + shipping = net + marketplace fee + processing share.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.common.contracts.orders_commands import LineItem, Shipping
from libs.common.fees import FeePolicy, Rate
from libs.common.money import Money, exponent, normalize_currency
from services.orders.domain.state import Order

__all__ = ["FeeBreakdown", "FeePolicy", "Rate", "SellerFees", "compute", "for_order"]


class SellerFees(BaseModel):
    model_config = ConfigDict(frozen=True)

    seller_id: str
    items_subtotal: int
    tax: int
    shipping: int
    gross: int
    marketplace_fee: int
    processing_fee: int
    net: int


class FeeBreakdown(BaseModel):
    """`GET /orders/{id}/fees`: every amount in minor units of `currency`."""

    model_config = ConfigDict(frozen=True)

    currency: str
    exponent: int
    items_subtotal: int
    tax: int
    shipping: int
    total: int
    marketplace_fee: int
    processing_fee: int
    processing_fee_estimated: bool
    processing_fee_bearer: Literal["platform", "seller"]
    processing_fee_platform: int
    platform_net: int = Field(description="marketplace fees less the processing fee it bears")
    sellers: tuple[SellerFees, ...]


def for_order(order: Order, policy: FeePolicy) -> FeeBreakdown:
    return compute(
        order.currency, order.items, order.shipping, policy, order.payment.processing_fee
    )


def compute(
    currency: str,
    items: Iterable[LineItem],
    shipping: Shipping | None,
    policy: FeePolicy,
    actual_processing_fee: int | None = None,
) -> FeeBreakdown:
    """The whole breakdown; pure, exact, and the parts add up to `total`."""
    currency = normalize_currency(currency)
    sellers, subtotal, tax = _by_seller(items)
    ship_amount = _split_shipping(currency, shipping, sellers, subtotal, tax=False)
    ship_tax = _split_shipping(currency, shipping, sellers, subtotal, tax=True)
    gross = [subtotal[i] + tax[i] + ship_amount[i] + ship_tax[i] for i in range(len(sellers))]
    total = sum(gross)
    rate = policy.marketplace_rate(currency)
    market = [min(rate.fee(s), g) if s > 0 else 0 for s, g in zip(subtotal, gross, strict=True)]
    fee = _processing_fee(policy, currency, total, actual_processing_fee)
    shares = _processing_shares(currency, fee, gross, market, policy.processing_fee_bearer)
    rows = tuple(
        SellerFees(
            seller_id=seller,
            items_subtotal=subtotal[i],
            tax=tax[i] + ship_tax[i],
            shipping=ship_amount[i],
            gross=gross[i],
            marketplace_fee=market[i],
            processing_fee=shares[i],
            net=gross[i] - market[i] - shares[i],
        )
        for i, seller in enumerate(sellers)
    )
    platform_fee = fee - sum(shares)
    return FeeBreakdown(
        currency=currency,
        exponent=exponent(currency),
        items_subtotal=sum(subtotal),
        tax=sum(r.tax for r in rows),
        shipping=sum(ship_amount),
        total=total,
        marketplace_fee=sum(market),
        processing_fee=fee,
        processing_fee_estimated=actual_processing_fee is None,
        processing_fee_bearer=policy.processing_fee_bearer,
        processing_fee_platform=platform_fee,
        platform_net=sum(market) - platform_fee,
        sellers=rows,
    )


def _processing_fee(policy: FeePolicy, currency: str, total: int, actual: int | None) -> int:
    """Stripe's actual fee when known, else the estimate; never below 0 nor above the total."""
    fee = policy.processing_rate(currency).fee(total) if actual is None else actual
    return min(max(fee, 0), total)


def _by_seller(items: Iterable[LineItem]) -> tuple[list[str], list[int], list[int]]:
    """Sellers in order of first appearance, with their item subtotal and item tax."""
    sellers: list[str] = []
    subtotal: list[int] = []
    tax: list[int] = []
    for item in items:
        if item.seller_id not in sellers:
            sellers.append(item.seller_id)
            subtotal.append(0)
            tax.append(0)
        index = sellers.index(item.seller_id)
        subtotal[index] += item.subtotal
        tax[index] += item.tax_amount
    return sellers, subtotal, tax


def _split_shipping(
    currency: str, shipping: Shipping | None, sellers: list[str], weights: list[int], *, tax: bool
) -> list[int]:
    amount = 0 if shipping is None else (shipping.tax_amount if tax else shipping.amount)
    if amount == 0 or not sellers:
        return [0] * len(sellers)
    assert shipping is not None
    if shipping.seller_id in sellers:
        return [amount if s == shipping.seller_id else 0 for s in sellers]
    use = weights if sum(weights) > 0 else [1] * len(sellers)
    return [m.amount for m in Money(amount, currency).allocate(use)]


def _processing_shares(
    currency: str, fee: int, gross: list[int], market: list[int], bearer: str
) -> list[int]:
    """Each seller's part of the processing fee; zero everywhere when the platform bears it."""
    if bearer != "seller" or fee == 0 or sum(gross) == 0:
        return [0] * len(gross)
    split = Money(fee, currency).allocate(gross)
    return [min(part.amount, g - m) for part, g, m in zip(split, gross, market, strict=True)]
