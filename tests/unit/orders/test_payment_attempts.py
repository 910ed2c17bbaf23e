"""The one-live-payment policy on Stripe's word, with a fake gateway (a subclass of the port):
what is canceled, what is kept, what blocks, and a race lost while canceling."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from libs.common.contracts.orders_commands import Buyer
from services.orders.adapters.stripe_gateway import PaymentsGateway, StripeDict
from services.orders.attempts import Attempt, PaymentInProgress, make_room, next_number
from services.orders.domain.state import Order


class FakeStripe(PaymentsGateway):
    """Objects by id; `moves_on` makes a cancel fail because the object moved to that status."""

    def __init__(self, *objects: StripeDict, moves_on: str | None = None) -> None:
        self.objects = {str(o["id"]): dict(o) for o in objects}
        self.moves_on = moves_on
        self.ended: list[str] = []

    def _end(self, object_id: str, status: str) -> StripeDict:
        if self.moves_on is not None:
            self.objects[object_id]["status"] = self.moves_on
            raise stripe.InvalidRequestError("it moved on", param=None)
        self.objects[object_id]["status"] = status
        self.ended.append(object_id)
        return self.objects[object_id]

    async def cancel(self, payment_intent_id: str, key: str) -> StripeDict:
        return self._end(payment_intent_id, "canceled")

    async def expire_checkout_session(self, session_id: str) -> StripeDict:
        return self._end(session_id, "expired")

    async def retrieve_payment_intent(self, payment_intent_id: str) -> StripeDict:
        return self.objects[payment_intent_id]

    async def retrieve_checkout_session(self, session_id: str) -> StripeDict:
        return self.objects[session_id]

    async def create_customer(self, buyer: Buyer) -> str:
        raise NotImplementedError

    async def create_payment_intent(self, order: Order, customer: str, attempt: int) -> Any:
        raise NotImplementedError

    async def create_checkout_session(
        self, order: Order, customer: str, urls: tuple[str, str], attempt: int
    ) -> Any:
        raise NotImplementedError

    async def find_payment_intents(self, order_id: str) -> list[StripeDict]:
        raise NotImplementedError

    async def capture(self, payment_intent_id: str, amount: int, key: str) -> StripeDict:
        raise NotImplementedError

    async def balance_transaction_of_charge(self, charge_id: str) -> StripeDict | None:
        raise NotImplementedError

    async def refund(self, *args: Any) -> StripeDict:
        raise NotImplementedError

    async def retrieve_charge(self, charge_id: str) -> StripeDict:
        raise NotImplementedError


def pi(object_id: str, status: str, attempt: int = 1) -> Attempt:
    return Attempt(
        "payment_intent", {"id": object_id, "status": status, "metadata": {"attempt": str(attempt)}}
    )


def cs(object_id: str, status: str, attempt: int = 1) -> Attempt:
    return Attempt(
        "checkout_session",
        {"id": object_id, "status": status, "metadata": {"attempt": str(attempt)}},
    )


@pytest.mark.parametrize("status", ["processing", "requires_capture", "succeeded"])
async def test_a_payment_intent_that_may_move_money_blocks_any_new_attempt(status: str) -> None:
    gateway = FakeStripe()
    with pytest.raises(PaymentInProgress) as refused:
        await make_room(gateway, "o", [pi("pi_1", status)], "checkout_session")
    assert refused.value.attempt_id == "pi_1" and gateway.ended == []


async def test_a_complete_session_blocks_and_nothing_is_canceled() -> None:
    gateway = FakeStripe()
    attempts = [pi("pi_1", "requires_payment_method"), cs("cs_1", "complete", 2)]
    with pytest.raises(PaymentInProgress):
        await make_room(gateway, "o", attempts, "payment_intent")
    assert gateway.ended == []


async def test_open_attempts_of_the_other_kind_are_ended_and_the_same_kind_kept() -> None:
    attempts = [
        pi("pi_1", "canceled", 1),
        cs("cs_1", "open", 2),
        pi("pi_2", "requires_action", 3),
    ]
    gateway = FakeStripe(*(a.obj for a in attempts))

    kept = await make_room(gateway, "o", attempts, "payment_intent")

    assert kept is not None and kept.id == "pi_2"
    assert gateway.ended == ["cs_1"]
    assert next_number(attempts) == 4


async def test_with_nothing_open_a_new_attempt_is_made() -> None:
    attempts = [pi("pi_1", "canceled"), cs("cs_1", "expired", 2)]
    assert await make_room(FakeStripe(), "o", attempts, "checkout_session") is None
    assert next_number([]) == 1


async def test_an_attempt_that_starts_moving_money_while_we_cancel_it_blocks() -> None:
    attempt = pi("pi_1", "requires_confirmation")
    gateway = FakeStripe(attempt.obj, moves_on="processing")
    with pytest.raises(PaymentInProgress) as refused:
        await make_room(gateway, "o", [attempt], "checkout_session")
    assert refused.value.status == "processing"


async def test_an_attempt_that_ended_by_itself_while_we_cancel_it_is_fine() -> None:
    attempt = cs("cs_1", "open")
    gateway = FakeStripe(attempt.obj, moves_on="expired")
    assert await make_room(gateway, "o", [attempt], "payment_intent") is None
