"""Backfill: page through Stripe's `GET /v1/events` and push each event through the publisher.

Stripe keeps events for 30 days and is the source of truth; webhooks can be lost before they
reach us (dropped, retries given up). Every listed event goes through the same dedupe-and-
publish path as a webhook, so only the missing ones are published. Platform events are listed
on the platform; Connect events are listed per connected account (`Stripe-Account`), as
Stripe keeps them there. Events are published oldest first, as they happened.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe

from libs.common.stripe_client import make_client
from services.ingest.dedupe import EventLedger
from services.ingest.publisher import Outcome, Publisher
from services.ingest.settings import IngestSettings

log = logging.getLogger(__name__)


class BackfillError(ValueError):
    """The request cannot be served as asked (unreadable --since, unknown event id)."""


@dataclass
class BackfillReport:
    listed: int = 0
    published: int = 0
    duplicates: int = 0

    def summary(self) -> str:
        return f"{self.listed} listed, {self.published} published, {self.duplicates} duplicates"


def parse_since(value: str) -> int | str:
    """An event id (`evt_…`) stays a string; an ISO time becomes unix seconds."""
    value = value.strip()
    if value.startswith("evt_"):
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BackfillError(f"--since takes an ISO time or an evt_ id, not {value!r}") from exc
    if moment.tzinfo is None:
        raise BackfillError(f"--since needs a time zone (e.g. {value}Z or {value}+00:00)")
    return int(moment.timestamp())


def _accounts(client: stripe.StripeClient) -> list[str | None]:
    found: list[str | None] = [None]
    for account in client.v1.accounts.list(params={"limit": 100}).auto_paging_iter():
        found.append(account.id)
    return found


def _event_created(client: stripe.StripeClient, event_id: str, accounts: list[str | None]) -> int:
    for account in accounts:
        options: Any = {"stripe_account": account} if account else {}
        try:
            return int(client.v1.events.retrieve(event_id, options=options).created)
        except stripe.InvalidRequestError:
            continue
    raise BackfillError(f"Stripe knows no event {event_id} (platform or connected accounts)")


def fetch_events(
    settings: IngestSettings, since: int | str | None, *, undelivered: bool, connect: bool = True
) -> list[dict[str, Any]]:
    """Every matching event, oldest first (Stripe lists newest first; ties keep its order)."""
    client = make_client(settings)
    accounts: list[str | None] = _accounts(client) if connect else [None]
    params: Any = {"limit": 100}
    if isinstance(since, str):
        since = _event_created(client, since, accounts)
    if since is not None:
        params["created"] = {"gte": since}
    if undelivered:
        params["delivery_success"] = False
    events: list[dict[str, Any]] = []
    for account in accounts:
        options: Any = {"stripe_account": account} if account else {}
        page = client.v1.events.list(params=params, options=options)
        listed = [e.to_dict() for e in page.auto_paging_iter()]
        events.extend(reversed(listed))
    events.sort(key=lambda e: int(e.get("created") or 0))
    return events


async def run(
    settings: IngestSettings,
    publisher: Publisher,
    *,
    since: int | str | None,
    undelivered: bool = False,
) -> BackfillReport:
    """List, then publish one by one (order kept per order id); stops at the first broker
    failure, raising `Unavailable` (or `PublishFailed` for a bug): the next run starts over,
    dedupe skips what landed."""
    events = await asyncio.to_thread(fetch_events, settings, since, undelivered=undelivered)
    report = BackfillReport(listed=len(events))
    for event in events:
        if await publisher.publish(event, "backfill") is Outcome.PUBLISHED:
            report.published += 1
        else:
            report.duplicates += 1
    return report


async def resume(
    settings: IngestSettings, ledger: EventLedger, publisher: Publisher
) -> BackfillReport:
    """The automatic run: from the last event seen, less an overlap for events whose delivery
    was still being retried. With no event seen yet there is nothing to resume from."""
    last = await ledger.last_seen_created()
    if last is None:
        return BackfillReport()
    return await run(settings, publisher, since=last - settings.backfill_overlap_s)
