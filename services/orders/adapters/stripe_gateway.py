"""Every Stripe call the orders service makes, one function each, each with an idempotency
key derived from the order and the operation, so that a retry after a crash or a timeout
returns the object the first attempt created instead of moving money twice."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import stripe

from libs.common.contracts.orders_commands import Buyer
from services.orders.domain.state import Order

StripeDict = dict[str, Any]


class PaymentsGateway(ABC):
    """The port: what the orders service needs from Stripe."""

    @abstractmethod
    async def create_customer(self, buyer: Buyer) -> str: ...

    @abstractmethod
    async def create_payment_intent(self, order: Order, customer_id: str) -> StripeDict: ...

    @abstractmethod
    async def create_checkout_session(
        self, order: Order, customer_id: str, success_url: str, cancel_url: str
    ) -> StripeDict: ...

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


def payment_intent_params(order: Order, customer_id: str) -> dict[str, Any]:
    """Amount, currency, customer and capture method all come from the order itself."""
    return {
        "amount": order.total.amount,
        "currency": order.currency,
        "customer": customer_id,
        "capture_method": order.capture_method,
        "payment_method_types": ["card"],
        "metadata": {"order_id": order.order_id, "buyer_id": order.buyer.id},
        "transfer_group": f"order_{order.order_id}",
        "description": f"Order {order.order_id}",
        "receipt_email": order.buyer.email,
    }


def checkout_params(
    order: Order, customer_id: str, success_url: str, cancel_url: str
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
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": order.order_id,
        "metadata": {"order_id": order.order_id},
        "payment_intent_data": {
            "capture_method": order.capture_method,
            "metadata": {"order_id": order.order_id, "buyer_id": order.buyer.id},
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
            {"idempotency_key": f"buyer-{buyer.id}-customer"},
        )
        return str(customer.id)

    async def create_payment_intent(self, order: Order, customer_id: str) -> StripeDict:
        intent = await self._v1.payment_intents.create_async(
            payment_intent_params(order, customer_id),  # type: ignore[arg-type]
            {"idempotency_key": f"order-{order.order_id}-payment-intent"},
        )
        return intent.to_dict()

    async def create_checkout_session(
        self, order: Order, customer_id: str, success_url: str, cancel_url: str
    ) -> StripeDict:
        session = await self._v1.checkout.sessions.create_async(
            checkout_params(order, customer_id, success_url, cancel_url),  # type: ignore[arg-type]
            {"idempotency_key": f"order-{order.order_id}-checkout-session"},
        )
        return session.to_dict()

    async def capture(self, payment_intent_id: str, amount: int, key: str) -> StripeDict:
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
        refund = await self._v1.refunds.create_async(
            {"payment_intent": payment_intent_id, "amount": amount, "metadata": metadata},
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
