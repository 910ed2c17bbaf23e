"""The gateway against the Stripe emulator: a retry whose idempotency key Stripe no longer
knows (its 24 h passed, or our answer was lost before we recorded it) finds the PaymentIntent
the first try made instead of making a second one; a capture asked again captures once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from devtools.infra.process import free_port
from libs.common.settings import EMULATOR_SECRET_KEY
from services.orders.adapters.stripe_gateway import StripeGateway, payment_intent_params
from services.orders.domain.state import Order
from tests.support import processes
from tests.unit.orders.builders import create, must, run

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["devtools.stripe_emulator", "--host", "127.0.0.1", "--port", str(port)]
    log_dir: Path = tmp_path_factory.mktemp("emulator")
    with processes.started(
        "stripe-emulator", args, env={}, log_dir=log_dir, health_url=f"{url}/_emulator/health"
    ):
        yield url


def client(url: str, asynchronous: bool = False) -> stripe.StripeClient:
    return stripe.StripeClient(
        EMULATOR_SECRET_KEY,
        base_addresses={"api": url},
        max_network_retries=0,
        http_client=stripe.AIOHTTPClient() if asynchronous else None,
    )


def an_order(capture: str = "automatic") -> Order:
    command = create(capture=capture)  # type: ignore[arg-type]
    return must(run([command.model_copy(update={"order_id": f"ord_{uuid.uuid4().hex[:10]}"})]))


def intents_of(sdk: stripe.StripeClient, order_id: str) -> list[str]:
    found = sdk.v1.payment_intents.search({"query": f"metadata['order_id']:'{order_id}'"})
    return [intent.id for intent in found.data]


async def test_a_retry_after_the_key_is_forgotten_reuses_the_payment_intent(
    emulator_url: str,
) -> None:
    sdk, order = client(emulator_url), an_order()
    customer = sdk.v1.customers.create({"email": "ann@example.com"}).id
    # Given the first try's PaymentIntent, made under a key Stripe no longer remembers
    first = sdk.v1.payment_intents.create(
        payment_intent_params(order, customer, 1),  # type: ignore[arg-type]
        {"idempotency_key": f"long-gone-{uuid.uuid4().hex}"},
    )
    gateway = StripeGateway(client(emulator_url, asynchronous=True))

    again = await gateway.create_payment_intent(order, customer, 1)

    assert again["id"] == first.id
    assert intents_of(sdk, order.order_id) == [first.id]
    # A later attempt (the first one canceled) is a new PaymentIntent.
    sdk.v1.payment_intents.cancel(first.id)
    second = await gateway.create_payment_intent(order, customer, 2)
    assert second["id"] != first.id
    assert sorted(intents_of(sdk, order.order_id)) == sorted([first.id, second["id"]])


async def test_a_capture_asked_again_under_a_forgotten_key_captures_once(
    emulator_url: str,
) -> None:
    sdk, order = client(emulator_url), an_order("manual")
    gateway = StripeGateway(client(emulator_url, asynchronous=True))
    customer = sdk.v1.customers.create({"email": "ann@example.com"}).id
    intent = await gateway.create_payment_intent(order, customer, 1)
    sdk.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})

    first = await gateway.capture(intent["id"], order.total.amount, "capture-key-1")
    again = await gateway.capture(intent["id"], order.total.amount, "capture-key-2")

    assert first["status"] == again["status"] == "succeeded"
    assert again["amount_received"] == order.total.amount
    charges = sdk.v1.charges.list({"payment_intent": intent["id"]}).data
    assert len(charges) == 1 and charges[0].amount_captured == order.total.amount


async def test_a_capture_stripe_refuses_is_still_refused(emulator_url: str) -> None:
    sdk, order = client(emulator_url), an_order("manual")
    gateway = StripeGateway(client(emulator_url, asynchronous=True))
    customer = sdk.v1.customers.create({"email": "ann@example.com"}).id
    intent = await gateway.create_payment_intent(order, customer, 1)
    sdk.v1.payment_intents.cancel(intent["id"])

    with pytest.raises(stripe.InvalidRequestError):
        await gateway.capture(intent["id"], order.total.amount, "capture-key-3")


async def test_a_refund_asked_again_under_a_forgotten_key_refunds_once(
    emulator_url: str,
) -> None:
    sdk, order = client(emulator_url), an_order()
    gateway = StripeGateway(client(emulator_url, asynchronous=True))
    customer = sdk.v1.customers.create({"email": "ann@example.com"}).id
    intent = await gateway.create_payment_intent(order, customer, 1)
    sdk.v1.payment_intents.confirm(intent["id"], {"payment_method": "pm_card_visa"})
    metadata = {"order_id": order.order_id, "reason": "order_canceled"}
    key = f"orders:{order.order_id}:refund:{intent['id']}:auto"

    # Given the first try's refund, made under a key Stripe no longer remembers
    first = sdk.v1.refunds.create(
        {
            "payment_intent": intent["id"],
            "amount": 500,
            "metadata": {**metadata, "idempotency_key": key},
        },
        {"idempotency_key": f"long-gone-{uuid.uuid4().hex}"},
    )

    again = await gateway.refund(intent["id"], 500, key, metadata)

    assert again["id"] == first.id
    refunds = sdk.v1.refunds.list({"payment_intent": intent["id"]}).data
    assert [r.amount for r in refunds] == [500]
