"""All mutable emulator state, cleared as a whole by `POST /_emulator/reset`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from devtools.stripe_emulator.config import EmulatorConfig
from devtools.stripe_emulator.faults import Faults
from devtools.stripe_emulator.idempotency import IdempotencyCache
from devtools.stripe_emulator.store import Store, now
from devtools.stripe_emulator.webhooks import WebhookDispatcher

StripeObject = dict[str, Any]

PLATFORM_ACCOUNT_ID = "acct_1EmulatorPlatform0000"


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.store = Store()
        self.faults = Faults()
        self.idempotency = IdempotencyCache()
        self.dispatcher = WebhookDispatcher(self)
        self.webhook_secrets: dict[str, str] = {}
        self.card_numbers: dict[str, str] = {}
        self.payout_members: dict[str, list[str]] = {}
        self.private: dict[str, StripeObject] = {}
        self._timers: set[asyncio.TimerHandle] = set()

    def reset(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.dispatcher.reset()
        self.store = Store()
        self.faults = Faults()
        self.idempotency.clear()
        self.webhook_secrets.clear()
        self.card_numbers.clear()
        self.payout_members.clear()
        self.private.clear()

    def later(self, delay_ms: int, action: Callable[[], object]) -> None:
        """Run `action` on the event loop after `delay_ms` (cancelled by a reset)."""
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(timer)
            action()

        timer = loop.call_later(delay_ms / 1000, fire)
        self._timers.add(timer)

    def platform_account(self) -> StripeObject:
        return {
            "id": PLATFORM_ACCOUNT_ID,
            "object": "account",
            "business_type": "company",
            "charges_enabled": True,
            "country": "US",
            "created": now(),
            "default_currency": "usd",
            "details_submitted": True,
            "email": None,
            "metadata": {},
            "payouts_enabled": True,
            "type": "standard",
        }

    def summary(self) -> StripeObject:
        endpoints = self.store.all("webhook_endpoint", None)
        return {
            "objects": self.store.counts(),
            "webhook_endpoints": [
                {"id": e["id"], "url": e["url"], "connect": e["connect"], "status": e["status"]}
                for e in endpoints
            ],
            "pending_deliveries": self.dispatcher.pending_count(),
            "idempotency_keys": len(self.idempotency),
            "faults": self.faults.summary(),
        }
