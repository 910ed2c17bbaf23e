"""Which failures are retried without bound, which a few times, which go to the DLQ at once."""

from __future__ import annotations

import asyncpg
import pytest
import stripe

from libs.common.contracts.envelope import ContractError
from libs.common.kafka.dead_letters import (
    Kind,
    PermanentError,
    classify,
    dlq_headers,
    handle_or_dead_letter,
)
from libs.common.kafka.producer import DeliveryError


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError("down"),
        TimeoutError(),
        DeliveryError("KafkaError{code=_MSG_TIMED_OUT}"),
        asyncpg.exceptions.TooManyConnectionsError("too many"),
        asyncpg.exceptions.CannotConnectNowError("starting"),
        asyncpg.InterfaceError("closed"),
        stripe.APIConnectionError("unreachable"),
        stripe.RateLimitError("slow down"),
        stripe.APIError("boom", http_status=502),
    ],
)
def test_infrastructure_failures_are_retried_without_bound(exc: Exception) -> None:
    assert classify(exc) is Kind.INFRASTRUCTURE


@pytest.mark.parametrize(
    "exc",
    [
        ContractError("bad json"),
        PermanentError("stripe refused"),
        stripe.InvalidRequestError("no such intent", param="id", http_status=400),
    ],
)
def test_refusals_go_to_the_dlq_at_once(exc: Exception) -> None:
    assert classify(exc) is Kind.PERMANENT


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.UntranslatableCharacterError("\\u0000"),
        asyncpg.exceptions.NumericValueOutOfRangeError("bigint"),
        asyncpg.exceptions.CheckViolationError("check"),
        DeliveryError("KafkaError{code=MSG_SIZE_TOO_LARGE}"),
        KeyError("amount"),
    ],
)
def test_anything_else_is_retried_a_few_times(exc: Exception) -> None:
    assert classify(exc) is Kind.SUSPECT


async def test_a_suspect_failure_is_dead_lettered_after_the_limit() -> None:
    calls: list[int] = []
    dead: list[tuple[str, int]] = []

    async def handle() -> None:
        calls.append(1)
        raise KeyError("amount")

    async def dead_letter(exc: BaseException, attempts: int) -> None:
        dead.append((type(exc).__name__, attempts))

    assert not await handle_or_dead_letter(handle, dead_letter, max_attempts=2)
    assert len(calls) == 2 and dead == [("KeyError", 2)]


def test_headers_say_where_from_why_and_how_often() -> None:
    headers = dlq_headers("t", 2, 7, "x" * 5000, error="DataError", attempts=3)
    assert headers["dlq.error_type"] == "DataError"
    assert headers["dlq.attempts"] == "3"
    assert (headers["dlq.topic"], headers["dlq.partition"], headers["dlq.offset"]) == (
        "t",
        "2",
        "7",
    )
    assert len(headers["dlq.reason"]) == 2000
