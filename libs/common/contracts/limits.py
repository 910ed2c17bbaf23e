"""Stripe's limits on the amounts of an order, checked before the order exists.

An order that Stripe would refuse to charge (over its maximum, under its minimum, a KWD amount
not ending in 0) is refused when it is created, with the reason, instead of failing at payment.
Every total also stays within 2^53 - 1 so that JSON consumers reading doubles keep it exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from libs.common.currencies import MAX_SAFE_INTEGER, Currency, currency


class _Line(Protocol):
    @property
    def quantity(self) -> int: ...
    @property
    def unit_amount(self) -> int: ...
    @property
    def tax_amount(self) -> int: ...


class _Shipping(Protocol):
    @property
    def amount(self) -> int: ...
    @property
    def tax_amount(self) -> int: ...


def check_order_amounts(code: str, items: Iterable[_Line], shipping: _Shipping | None) -> None:
    """Raise `ValueError` with the first reason the order's amounts cannot be charged."""
    rules = currency(code)
    lines = list(items)
    for where, amount in _amounts(lines, shipping):
        _check_one(rules, where, amount)
    total = 0
    for index, line in enumerate(lines):
        line_total = line.unit_amount * line.quantity + line.tax_amount
        _check_max(rules, f"items[{index}] total (unit_amount * quantity + tax_amount)", line_total)
        total += line_total
    total += shipping.amount + shipping.tax_amount if shipping else 0
    _check_max(rules, "order total", total)
    if rules.minimum is not None and total < rules.minimum:
        raise ValueError(
            f"order total {total} is below Stripe's minimum charge of {rules.minimum} "
            f"minor units of {code.upper()}"
        )


def _amounts(lines: list[_Line], shipping: _Shipping | None) -> Iterator[tuple[str, int]]:
    for index, line in enumerate(lines):
        yield f"items[{index}].unit_amount", line.unit_amount
        yield f"items[{index}].tax_amount", line.tax_amount
    if shipping is not None:
        yield "shipping.amount", shipping.amount
        yield "shipping.tax_amount", shipping.tax_amount


def _check_one(rules: Currency, where: str, amount: int) -> None:
    _check_max(rules, where, amount)
    if amount % rules.charge_multiple:
        raise ValueError(
            f"{where} {amount} must be a multiple of {rules.charge_multiple}: Stripe charges "
            f"{rules.code.upper()} only in amounts whose last "
            f"{len(str(rules.charge_multiple)) - 1} digit(s) are 0"
        )


def _check_max(rules: Currency, where: str, amount: int) -> None:
    limit = min(rules.maximum, MAX_SAFE_INTEGER)
    if amount > limit:
        raise ValueError(
            f"{where} {amount} is over Stripe's maximum of {limit} minor units of "
            f"{rules.code.upper()}"
        )
