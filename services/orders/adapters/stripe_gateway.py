"""Every Stripe call the orders service makes, one function each, each with an idempotency
key derived from the order, the operation and the leg (`libs.common.idempotency`), so that a
retry after a crash or a timeout returns the object the first attempt created instead of
moving money twice.

A key lives 24 hours at Stripe. So that a retry later than that makes nothing twice either,
creating a PaymentIntent first looks up what Stripe already holds for the order and attempt
(by the metadata we put on it), and a capture first reads the PaymentIntent."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import stripe

from libs.common.contracts.orders_commands import Buyer
from libs.common.idempotency import idempotency_key
from services.orders.domain.state import Order

StripeDict = dict[str, Any]


class PaymentsGateway(ABC):
    """The port: what the orders service needs from Stripe."""

    @abstractmethod
    async def create_customer(self, buyer: Buyer) -> str: ...

    @abstractmethod
    async def create_payment_intent(
        self, order: Order, customer_id: str, attempt: int
    ) -> StripeDict: ...

    @abstractmethod
    async def create_checkout_session(
        self, order: Order, customer_id: str, urls: tuple[str, str], attempt: int
    ) -> StripeDict: ...

    @abstractmethod
    async def find_payment_intents(self, order_id: str) -> list[StripeDict]:
        """Every PaymentIntent Stripe holds with this order in its metadata."""

    @abstractmethod
    async def capture(self, payment_intent_id: str, amount: int, key: str) -> StripeDict: ...

    @abstractmethod
    async def cancel(self, payment_intent_id: str, key: str) -> StripeDict: ...

    @abstractmethod
    async def balance_transaction_of_charge(self, charge_id: str) -> StripeDict | None: ...

    @abstractmethod
    async def refund(
        self, payment_intent_id: str, amount: int, key: str, metadata: dict[str, str]
    ) -> StripeDict: ...

    @abstractmethod
    async def expire_checkout_session(self, session_id: str) -> StripeDict: ...

    @abstractmethod
    async def retrieve_payment_intent(self, payment_intent_id: str) -> StripeDict: ...

    @abstractmethod
    async def retrieve_checkout_session(self, session_id: str) -> StripeDict: ...

    @abstractmethod
    async def retrieve_charge(self, charge_id: str) -> StripeDict: ...


def attempt_of(stripe_object: StripeDict) -> int:
    """The payment attempt number we put in the object's metadata; objects made before
    attempts were numbered were the order's first."""
    metadata = stripe_object.get("metadata") or {}
    value = str(metadata.get("attempt") or "1")
    return int(value) if value.isdigit() else 1


def _metadata(order: Order, attempt: int, leg: str) -> dict[str, str]:
    return {
        "order_id": order.order_id,
        "buyer_id": order.buyer.id,
        "attempt": str(attempt),
        "leg": leg,
    }


def payment_intent_params(order: Order, customer_id: str, attempt: int) -> dict[str, Any]:
    """Amount, currency, customer and capture method all come from the order itself."""
    return {
        "amount": order.total.amount,
        "currency": order.currency,
        "customer": customer_id,
        "capture_method": order.capture_method,
        "payment_method_types": ["card"],
        "metadata": _metadata(order, attempt, "payment-intent"),
        "transfer_group": f"order_{order.order_id}",
        "description": f"Order {order.order_id}",
        "receipt_email": order.buyer.email,
    }


def checkout_params(
    order: Order, customer_id: str, urls: tuple[str, str], attempt: int
) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {
            "quantity": item.quantity,
            "price_data": {
                "currency": order.currency,
                "unit_amount": item.unit_amount,
                "product_data": {"name": item.description or item.sku},
            },
        }
        for item in order.items
    ]
    extras = order.total.amount - sum(item.unit_amount * item.quantity for item in order.items)
    if extras:
        # Taxes and shipping as one line, so that Checkout charges exactly the order total.
        items.append(
            {
                "quantity": 1,
                "price_data": {
                    "currency": order.currency,
                    "unit_amount": extras,
                    "product_data": {"name": "Taxes and shipping"},
                },
            }
        )
    return {
        "mode": "payment",
        "customer": customer_id,
        "line_items": items,
        "success_url": urls[0],
        "cancel_url": urls[1],
        "client_reference_id": order.order_id,
        "metadata": {"order_id": order.order_id, "attempt": str(attempt)},
        "payment_intent_data": {
            "capture_method": order.capture_method,
            "metadata": _metadata(order, attempt, "checkout-session"),
            "transfer_group": f"order_{order.order_id}",
        },
    }


class StripeGateway(PaymentsGateway):
    """The gateway over the official SDK's async methods."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self._v1 = client.v1

    async def create_customer(self, buyer: Buyer) -> str:
        customer = await self._v1.customers.create_async(
            {"email": buyer.email, "name": buyer.name, "metadata": {"buyer_id": buyer.id}},
            {"idempotency_key": idempotency_key(buyer.id, "customer")},
        )
        return str(customer.id)

    async def create_payment_intent(
        self, order: Order, customer_id: str, attempt: int
    ) -> StripeDict:
        for existing in await self.find_payment_intents(order.order_id):
            # Made by an earlier try whose answer we lost (its key may be long expired).
            leg = (existing.get("metadata") or {}).get("leg")
            if attempt_of(existing) == attempt and leg == "payment-intent":
                return existing
        intent = await self._v1.payment_intents.create_async(
            payment_intent_params(order, customer_id, attempt),  # type: ignore[arg-type]
            {"idempotency_key": idempotency_key(order.order_id, "payment-intent", str(attempt))},
        )
        return intent.to_dict()

    async def create_checkout_session(
        self, order: Order, customer_id: str, urls: tuple[str, str], attempt: int
    ) -> StripeDict:
        key = idempotency_key(order.order_id, "checkout-session", str(attempt))
        session = await self._v1.checkout.sessions.create_async(
            checkout_params(order, customer_id, urls, attempt),  # type: ignore[arg-type]
            {"idempotency_key": key},
        )
        return session.to_dict()

    async def find_payment_intents(self, order_id: str) -> list[StripeDict]:
        quoted = order_id.replace("\\", "\\\\").replace("'", "\\'")
        params: dict[str, Any] = {"query": f"metadata['order_id']:'{quoted}'", "limit": 100}
        found: list[StripeDict] = []
        while True:
            page = await self._v1.payment_intents.search_async(params)  # type: ignore[arg-type]
            found.extend(intent.to_dict() for intent in page.data)
            if not page.has_more or not page.next_page:
                return found
            params["page"] = page.next_page

    async def capture(self, payment_intent_id: str, amount: int, key: str) -> StripeDict:
        current = await self.retrieve_payment_intent(payment_intent_id)
        if current.get("status") == "succeeded":
            # Captured by an earlier try (whose key Stripe may have forgotten): its answer.
            return current
        intent = await self._v1.payment_intents.capture_async(
            payment_intent_id, {"amount_to_capture": amount}, {"idempotency_key": key}
        )
        return intent.to_dict()

    async def cancel(self, payment_intent_id: str, key: str) -> StripeDict:
        intent = await self._v1.payment_intents.cancel_async(
            payment_intent_id, {"cancellation_reason": "abandoned"}, {"idempotency_key": key}
        )
        return intent.to_dict()

    async def balance_transaction_of_charge(self, charge_id: str) -> StripeDict | None:
        charge = await self._v1.charges.retrieve_async(
            charge_id, {"expand": ["balance_transaction"]}
        )
        transaction = charge.to_dict().get("balance_transaction")
        return transaction if isinstance(transaction, dict) else None

    async def refund(
        self, payment_intent_id: str, amount: int, key: str, metadata: dict[str, str]
    ) -> StripeDict:
        # The key goes into the refund's metadata too: a refund asked again after Stripe
        # forgot the key (24 h) finds the one the first try made instead of making another.
        found = await self._v1.refunds.list_async(
            {"payment_intent": payment_intent_id, "limit": 100}
        )
        for existing in found.data:
            if (existing.to_dict().get("metadata") or {}).get("idempotency_key") == key:
                return existing.to_dict()
        refund = await self._v1.refunds.create_async(
            {
                "payment_intent": payment_intent_id,
                "amount": amount,
                "metadata": {**metadata, "idempotency_key": key},
            },
            {"idempotency_key": key},
        )
        return refund.to_dict()

    async def expire_checkout_session(self, session_id: str) -> StripeDict:
        # Expiring is idempotent by nature: an expired session stays expired.
        session = await self._v1.checkout.sessions.expire_async(session_id)
        return session.to_dict()

    async def retrieve_payment_intent(self, payment_intent_id: str) -> StripeDict:
        intent = await self._v1.payment_intents.retrieve_async(
            payment_intent_id, {"expand": ["latest_charge.balance_transaction"]}
        )
        return intent.to_dict()

    async def retrieve_checkout_session(self, session_id: str) -> StripeDict:
        session = await self._v1.checkout.sessions.retrieve_async(session_id)
        return session.to_dict()

    async def retrieve_charge(self, charge_id: str) -> StripeDict:
        charge = await self._v1.charges.retrieve_async(
            charge_id, {"expand": ["balance_transaction"]}
        )
        return charge.to_dict()
