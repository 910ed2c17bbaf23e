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
- The processing fee is stated in the currency Stripe reported it in (`settlement_currency`,
  with Stripe's `exchange_rate`); when that is not the order's currency and sellers bear it,
  their shares are the fee converted at that rate (half up), and the platform's net is
  stated per currency, never summed across currencies.
- Refunds and disputes: what went back to the buyer (refunds, plus a dispute not won, at
  most the total) is split across sellers in proportion to their gross. The marketplace fee
  is kept, or returned in proportion, as `marketplace_fee_on_refund` says; Stripe does not
  return its processing fee, so shares of it stay. A seller's net can then be negative: what
  the seller owes.
- Identity: total = returned + marketplace fee + sellers' processing shares + sum of nets;
  per seller, gross = returned + marketplace fee + processing share + net.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.common.contracts.orders_commands import LineItem, Shipping
from libs.common.fees import FeePolicy, Rate, RefundedFee
from libs.common.money import Money, div_round, exponent, normalize_currency
from services.orders.domain.state import Order

__all__ = ["FeeBreakdown", "FeePolicy", "Rate", "SellerFees", "Settled", "compute", "for_order"]


class Amount(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: int
    currency: str


class SellerFees(BaseModel):
    model_config = ConfigDict(frozen=True)

    seller_id: str
    items_subtotal: int
    tax: int
    shipping: int
    gross: int
    returned: int = Field(description="refunded or lost in a dispute, this seller's part")
    marketplace_fee: int
    processing_fee: int
    net: int = Field(description="owed to the seller now; negative when the seller owes")


class FeeBreakdown(BaseModel):
    """`GET /orders/{id}/fees`: minor units of `currency` unless an amount names its own."""

    model_config = ConfigDict(frozen=True)

    currency: str
    exponent: int
    items_subtotal: int
    tax: int
    shipping: int
    total: int
    refunded: int
    disputed: int
    returned: int = Field(description="refunds plus a dispute not won, at most the total")
    marketplace_fee: int = Field(description="what the marketplace keeps now")
    marketplace_fee_on_refund: RefundedFee
    processing_fee: Amount
    processing_fee_estimated: bool
    processing_fee_bearer: Literal["platform", "seller"]
    processing_fee_sellers: int = Field(description="the sellers' shares, in `currency`")
    settlement_currency: str
    exchange_rate: str | None
    platform_net: tuple[Amount, ...] = Field(
        description="per currency: marketplace fee and sellers' shares less Stripe's fee"
    )
    sellers: tuple[SellerFees, ...]


@dataclass(frozen=True, slots=True)
class Settled:
    """What Stripe said about the money: its fee (in its currency) and what went back."""

    fee: int | None = None
    fee_currency: str | None = None
    exchange_rate: str | None = None
    refunded: int = 0
    disputed: int = 0


def for_order(order: Order, policy: FeePolicy) -> FeeBreakdown:
    payment = order.payment
    settled = Settled(
        fee=payment.processing_fee,
        fee_currency=payment.fee_currency,
        exchange_rate=payment.exchange_rate,
        refunded=order.refunded.amount,
        disputed=order.disputed.amount,
    )
    return compute(order.currency, order.items, order.shipping, policy, settled)


def compute(
    currency: str,
    items: Iterable[LineItem],
    shipping: Shipping | None,
    policy: FeePolicy,
    settled: Settled | None = None,
) -> FeeBreakdown:
    """The whole breakdown; pure, exact, and the parts add up to `total`."""
    currency = normalize_currency(currency)
    settled = settled or Settled()
    sellers, subtotal, tax = _by_seller(items)
    ship_amount = _split_shipping(currency, shipping, sellers, subtotal, tax=False)
    ship_tax = _split_shipping(currency, shipping, sellers, subtotal, tax=True)
    gross = [subtotal[i] + tax[i] + ship_amount[i] + ship_tax[i] for i in range(len(sellers))]
    total = sum(gross)
    rate = policy.marketplace_rate(currency)
    market = [min(rate.fee(s), g) if s > 0 else 0 for s, g in zip(subtotal, gross, strict=True)]
    fee = _processing_fee(policy, currency, total, settled)
    fee_here = _in_order_currency(fee, currency, settled.exchange_rate)
    shares = _processing_shares(currency, fee_here, gross, market, policy.processing_fee_bearer)
    returned_total = min(settled.refunded + settled.disputed, total)
    returned = _split(currency, returned_total, gross)
    if policy.marketplace_fee_on_refund == "returned":
        market = [m - _part(m, r, g) for m, r, g in zip(market, returned, gross, strict=True)]
    rows = tuple(
        SellerFees(
            seller_id=seller,
            items_subtotal=subtotal[i],
            tax=tax[i] + ship_tax[i],
            shipping=ship_amount[i],
            gross=gross[i],
            returned=returned[i],
            marketplace_fee=market[i],
            processing_fee=shares[i],
            net=gross[i] - returned[i] - market[i] - shares[i],
        )
        for i, seller in enumerate(sellers)
    )
    return FeeBreakdown(
        currency=currency,
        exponent=exponent(currency),
        items_subtotal=sum(subtotal),
        tax=sum(r.tax for r in rows),
        shipping=sum(ship_amount),
        total=total,
        refunded=settled.refunded,
        disputed=settled.disputed,
        returned=returned_total,
        marketplace_fee=sum(market),
        marketplace_fee_on_refund=policy.marketplace_fee_on_refund,
        processing_fee=Amount(amount=fee.amount, currency=fee.currency),
        processing_fee_estimated=settled.fee is None,
        processing_fee_bearer=policy.processing_fee_bearer,
        processing_fee_sellers=sum(shares),
        settlement_currency=fee.currency,
        exchange_rate=settled.exchange_rate if fee.currency != currency else None,
        platform_net=_platform_net(currency, sum(market) + sum(shares), fee),
        sellers=rows,
    )


def _processing_fee(policy: FeePolicy, currency: str, total: int, settled: Settled) -> Money:
    """Stripe's actual fee when known, else the estimate (never below 0 nor above the total)."""
    if settled.fee is not None:
        return Money(max(settled.fee, 0), settled.fee_currency or currency)
    estimate = policy.processing_rate(currency).fee(total)
    return Money(min(max(estimate, 0), total), currency)


def _in_order_currency(fee: Money, currency: str, exchange_rate: str | None) -> int | None:
    """The fee in the order's currency: as is, or divided by Stripe's rate; None if unknown.

    Stripe's `exchange_rate` turns the charge's currency into the settlement one
    (settled = charged x rate), so a fee settled in another currency is fee / rate here.
    """
    if fee.currency == currency:
        return fee.amount
    if exchange_rate is None:
        return None
    numerator, denominator = Decimal(exchange_rate).as_integer_ratio()
    return div_round(fee.amount * denominator, numerator) if numerator > 0 else None


def _platform_net(currency: str, received: int, fee: Money) -> tuple[Amount, ...]:
    if fee.currency == currency:
        return (Amount(amount=received - fee.amount, currency=currency),)
    paid = Amount(amount=-fee.amount, currency=fee.currency)
    return (Amount(amount=received, currency=currency), paid)


def _split(currency: str, amount: int, weights: list[int]) -> list[int]:
    if amount == 0 or sum(weights) == 0:
        return [0] * len(weights)
    return [m.amount for m in Money(amount, currency).allocate(weights)]


def _part(fee: int, returned: int, gross: int) -> int:
    """The marketplace fee returned on `returned` of `gross`, in proportion, half up."""
    return 0 if gross == 0 else div_round(fee * returned, gross)


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
    currency: str, fee: int | None, gross: list[int], market: list[int], bearer: str
) -> list[int]:
    """Each seller's part of the processing fee; zero everywhere when the platform bears it."""
    if bearer != "seller" or not fee or sum(gross) == 0:
        return [0] * len(gross)
    split = Money(min(fee, sum(gross)), currency).allocate(gross)
    return [min(part.amount, g - m) for part, g, m in zip(split, gross, market, strict=True)]
