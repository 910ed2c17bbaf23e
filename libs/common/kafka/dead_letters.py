"""What a consumer does with a record its handler fails on: retry it, or dead-letter it.

One rule for every consumer. A failure of the infrastructure itself (the broker, PostgreSQL
or Stripe unreachable) says nothing about the record: it is retried without bound, with
backoff, and the health check reports the stall. A record refused for good (`ContractError`,
`PermanentError`) goes to `<topic>.dlq` at once. Anything else — a value the database cannot
hold, an event the domain cannot read, an unexpected exception — is retried a few times (it
may have been a passing fault we did not foresee) and then dead-lettered, so that one record
never stalls the partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import Enum
from functools import partial

import asyncpg
import confluent_kafka
import stripe

from libs.common.contracts.envelope import ContractError
from libs.common.kafka.producer import DeliveryError

log = logging.getLogger(__name__)

REASON_MAX = 2000
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0

_POSTGRES_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
)
# librdkafka's names for a record the broker refuses for what it holds, not for being down.
_RECORD_REFUSED = ("MSG_SIZE_TOO_LARGE", "RECORD_LIST_TOO_LARGE", "INVALID_RECORD")
_STRIPE_DOWN = (stripe.APIConnectionError, stripe.RateLimitError, stripe.AuthenticationError)


class PermanentError(Exception):
    """Raised by a handler for a record that will never succeed; it goes to the DLQ at once."""


class Kind(Enum):
    INFRASTRUCTURE = "infrastructure"  # retried without bound
    PERMANENT = "permanent"  # dead-lettered at once
    SUSPECT = "suspect"  # retried up to the limit, then dead-lettered


def classify(exc: BaseException) -> Kind:
    """How to treat a handler's failure; our producer's failed deliveries and timeouts are
    the broker's fault, not the record's."""
    if isinstance(exc, (ContractError, PermanentError)):
        return Kind.PERMANENT
    if isinstance(exc, (DeliveryError, confluent_kafka.KafkaException)):
        refused = any(code in str(exc) for code in _RECORD_REFUSED)
        return Kind.SUSPECT if refused else Kind.INFRASTRUCTURE
    if isinstance(exc, OSError):
        return Kind.INFRASTRUCTURE
    if isinstance(exc, _POSTGRES_DOWN + _STRIPE_DOWN):
        return Kind.INFRASTRUCTURE
    if isinstance(exc, stripe.StripeError):
        status = exc.http_status
        if isinstance(exc, stripe.APIError) and (status is None or status >= 500):
            return Kind.INFRASTRUCTURE
        if status is not None and status >= 500:
            return Kind.INFRASTRUCTURE
        if isinstance(exc, stripe.InvalidRequestError):
            return Kind.PERMANENT
    return Kind.SUSPECT


def error_type(exc: BaseException) -> str:
    """A short, bounded label for metrics and the DLQ header: the exception's class name."""
    return type(exc).__name__


def dlq_headers(
    topic: str,
    partition: int,
    offset: int,
    reason: str,
    *,
    error: str = "",
    attempts: int = 1,
) -> dict[str, str]:
    """Where a dead letter came from and why, so that it can be inspected and replayed."""
    return {
        "dlq.reason": reason[:REASON_MAX],
        "dlq.error_type": error,
        "dlq.attempts": str(attempts),
        "dlq.topic": topic,
        "dlq.partition": str(partition),
        "dlq.offset": str(offset),
        "dlq.failed_at": datetime.now(UTC).isoformat(),
    }


def backoff(attempt: int) -> float:
    """Seconds to wait before attempt `attempt + 1` (doubling, capped)."""
    return float(min(BACKOFF_FIRST_S * 2 ** max(attempt - 1, 0), BACKOFF_MAX_S))


DeadLetter = Callable[[BaseException, int], Awaitable[None]]


async def handle_or_dead_letter(
    handle: Callable[[], Awaitable[None]],
    dead_letter: DeadLetter,
    *,
    max_attempts: int,
    what: str = "record",
) -> bool:
    """Run `handle` until it succeeds (True) or the record is dead-lettered (False), which
    `dead_letter(exc, attempts)` does; only infrastructure failures retry without bound."""
    attempts = 0
    infra_failures = 0
    while True:
        try:
            await handle()
            return True
        except Exception as exc:
            kind = classify(exc)
            if kind is Kind.INFRASTRUCTURE:
                infra_failures += 1
                delay = backoff(infra_failures)
                log.warning("%s: infrastructure failure (%r); retrying in %.1fs", what, exc, delay)
                await asyncio.sleep(delay)
                continue
            attempts += 1
            if kind is Kind.PERMANENT or attempts >= max_attempts:
                log.error("%s: dead-lettered after %d attempt(s): %r", what, attempts, exc)
                await retry_forever(partial(dead_letter, exc, attempts), what=f"{what} to DLQ")
                return False
            log.exception("%s failed (attempt %d of %d)", what, attempts, max_attempts)
            await asyncio.sleep(backoff(attempts))


async def retry_forever(handle: Callable[[], Awaitable[None]], *, what: str) -> None:
    """For a step that must not be skipped (a dead letter's send): retry with backoff."""
    failures = 0
    while True:
        try:
            await handle()
            return
        except Exception:
            failures += 1
            delay = backoff(failures)
            log.exception("%s failed; retrying in %.1fs", what, delay)
            await asyncio.sleep(delay)


async def retry_infrastructure(handle: Callable[[], Awaitable[None]], *, what: str) -> None:
    """Run `handle`, retrying infrastructure failures without bound; raise any other."""
    failures = 0
    while True:
        try:
            await handle()
            return
        except Exception as exc:
            if classify(exc) is not Kind.INFRASTRUCTURE:
                raise
            failures += 1
            delay = backoff(failures)
            log.warning("%s: infrastructure failure (%r); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
