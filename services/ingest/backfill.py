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
import time
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


EVENT_HISTORY_S = 30 * 24 * 3600
"""Stripe keeps events for 30 days: a backfill with no start begins that far back."""


class Accounts:
    """The platform and its connected accounts, listed incrementally: each refresh asks only
    for accounts created since the newest one already known, not for all of them again."""

    def __init__(self) -> None:
        self.ids: list[str | None] = [None]
        self._newest: int | None = None

    def refresh(self, client: stripe.StripeClient) -> list[str | None]:
        params: Any = {"limit": 100}
        if self._newest is not None:
            params["created"] = {"gte": self._newest}
        known = set(self.ids)
        for account in client.v1.accounts.list(params=params).auto_paging_iter():
            self._newest = max(self._newest or 0, int(account.created or 0))
            if account.id not in known:
                known.add(account.id)
                self.ids.append(account.id)
        return list(self.ids)


def _event_created(client: stripe.StripeClient, event_id: str, accounts: list[str | None]) -> int:
    for account in accounts:
        options: Any = {"stripe_account": account} if account else {}
        try:
            return int(client.v1.events.retrieve(event_id, options=options).created)
        except stripe.InvalidRequestError:
            continue
    raise BackfillError(f"Stripe knows no event {event_id} (platform or connected accounts)")


@dataclass(frozen=True)
class Window:
    """What a run lists: events created in [start, end), from these accounts."""

    start: int
    end: int
    accounts: list[str | None]
    undelivered: bool


def plan(
    client: stripe.StripeClient,
    accounts: Accounts,
    since: int | str | None,
    *,
    undelivered: bool,
    connect: bool = True,
) -> Window:
    known: list[str | None] = accounts.refresh(client) if connect else [None]
    if isinstance(since, str):
        since = _event_created(client, since, known)
    now = int(time.time())
    start = since if since is not None else now - EVENT_HISTORY_S
    return Window(start, now + 1, known, undelivered)


def events_in(
    client: stripe.StripeClient, window: Window, start: int, end: int
) -> list[dict[str, Any]]:
    """The window's events created in [start, end), oldest first (Stripe lists newest
    first; ties keep its order)."""
    params: Any = {"limit": 100, "created": {"gte": start, "lt": end}}
    if window.undelivered:
        params["delivery_success"] = False
    events: list[dict[str, Any]] = []
    for account in window.accounts:
        options: Any = {"stripe_account": account} if account else {}
        page = client.v1.events.list(params=params, options=options)
        events.extend(reversed([e.to_dict() for e in page.auto_paging_iter()]))
    events.sort(key=lambda e: int(e.get("created") or 0))
    return events


async def run(
    settings: IngestSettings,
    publisher: Publisher,
    *,
    since: int | str | None,
    undelivered: bool = False,
    accounts: Accounts | None = None,
) -> BackfillReport:
    """List and publish one slice of `BACKFILL_SLICE_S` at a time, oldest first, so that a
    long window is never held in memory whole (order kept per order id); stops at the
    first failure, raising `Unavailable` (or `PublishFailed` for a bug): the next run starts
    over, dedupe skips what landed."""
    client = make_client(settings)
    accounts = accounts or Accounts()
    window = await asyncio.to_thread(plan, client, accounts, since, undelivered=undelivered)
    report = BackfillReport()
    for start in range(window.start, window.end, settings.backfill_slice_s):
        end = min(start + settings.backfill_slice_s, window.end)
        for event in await asyncio.to_thread(events_in, client, window, start, end):
            report.listed += 1
            if await publisher.publish(event, "backfill") is Outcome.PUBLISHED:
                report.published += 1
            else:
                report.duplicates += 1
    return report


async def resume(
    settings: IngestSettings,
    ledger: EventLedger,
    publisher: Publisher,
    accounts: Accounts | None = None,
) -> BackfillReport:
    """The automatic run: from the last event seen, less an overlap for events whose delivery
    was still being retried. With no event seen yet there is nothing to resume from."""
    last = await ledger.last_seen_created()
    if last is None:
        return BackfillReport()
    since = last - settings.backfill_overlap_s
    return await run(settings, publisher, since=since, accounts=accounts)
