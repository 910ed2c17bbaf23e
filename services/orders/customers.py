"""One Stripe Customer per buyer, created on the first checkout and reused after.

Two first checkouts of the same buyer at once must still make one customer: the buyer's row
is locked while the customer is created, and the Stripe call carries a key derived from the
buyer id, so even a crash between Stripe's answer and our commit cannot make a second one.
"""

from __future__ import annotations

import asyncpg

from libs.common.contracts.orders_commands import Buyer
from services.orders.adapters.stripe_gateway import PaymentsGateway


async def ensure_customer(pool: asyncpg.Pool, gateway: PaymentsGateway, buyer: Buyer) -> str:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO orders_buyers (buyer_id, email) VALUES ($1, $2) "
            "ON CONFLICT (buyer_id) DO NOTHING",
            buyer.id,
            buyer.email,
        )
        existing = await conn.fetchval(
            "SELECT stripe_customer_id FROM orders_buyers WHERE buyer_id = $1 FOR UPDATE",
            buyer.id,
        )
        if existing:
            return str(existing)
        customer_id = await gateway.create_customer(buyer)
        await conn.execute(
            "UPDATE orders_buyers SET stripe_customer_id = $2 WHERE buyer_id = $1",
            buyer.id,
            customer_id,
        )
        return customer_id
