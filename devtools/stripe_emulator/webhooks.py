"""Signed webhook delivery with retries, backoff and fault injection.

Each endpoint has one queue and one worker, so that without faults an endpoint receives events in
the order they happened; failed attempts are retried from their own tasks with exponential backoff
so that one failing event never holds back the others. A record per (event, endpoint) keeps the
outcome; the event's `pending_webhooks` counts the records not yet delivered.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from devtools.stripe_emulator.faults import WebhookFaults

if TYPE_CHECKING:
    from devtools.stripe_emulator.state import EmulatorState

StripeObject = dict[str, Any]
log = logging.getLogger("stripe_emulator.webhooks")

# Signs deliveries picked by `bad_signature_rate`, so that receivers must reject them.
CORRUPT_SECRET = "whsec_" + "corrupted-by-fault-injection"


def sign(payload: str, secret: str, timestamp: int) -> str:
    """Stripe-Signature header: HMAC-SHA256 of `"{t}.{payload}"` keyed by the whsec secret."""
    signed = f"{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Delivery:
    event_id: str
    endpoint_id: str
    status: str = "pending"
    attempts: int = 0
    last_http_status: int | None = None
    last_error: str | None = None

    def as_json(self) -> StripeObject:
        return dict(self.__dict__)


@dataclass
class Job:
    record: Delivery
    bypass_faults: bool = False
    rounds: int = 0


class WebhookDispatcher:
    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._queues: dict[str, asyncio.Queue[Job]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.deliveries: dict[str, dict[str, Delivery]] = {}

    async def stop(self) -> None:
        tasks = list(self._tasks)
        self.reset()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def reset(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()
        self._queues.clear()
        self.deliveries.clear()

    def matching_endpoints(self, event: StripeObject) -> list[StripeObject]:
        connect = "account" in event
        return [
            endpoint
            for endpoint in self._state.store.all("webhook_endpoint", None)
            if endpoint["status"] == "enabled"
            and bool(endpoint.get("connect")) == connect
            and ("*" in endpoint["enabled_events"] or event["type"] in endpoint["enabled_events"])
        ]

    def enqueue(self, event: StripeObject, endpoints: list[StripeObject]) -> None:
        records = self.deliveries.setdefault(event["id"], {})
        for endpoint in endpoints:
            record = Delivery(event["id"], endpoint["id"])
            records[endpoint["id"]] = record
            self._queue(endpoint["id"]).put_nowait(Job(record))
        self._refresh_pending(event["id"])

    def resend(self, event: StripeObject, endpoint_id: str | None) -> list[Delivery]:
        """Deliver again, bypassing faults (the recovery path after drops)."""
        targets = (
            [endpoint_id] if endpoint_id else [e["id"] for e in self.matching_endpoints(event)]
        )
        records = self.deliveries.setdefault(event["id"], {})
        jobs = []
        for target in targets:
            record = records.get(target) or Delivery(event["id"], target)
            records[target] = record
            if record.status != "succeeded":
                record.status = "pending"
            jobs.append(record)
            self._queue(target).put_nowait(Job(record, bypass_faults=True))
        self._refresh_pending(event["id"])
        return jobs

    def pending_count(self) -> int:
        return sum(
            1
            for records in self.deliveries.values()
            for r in records.values()
            if r.status == "pending"
        )

    def _refresh_pending(self, event_id: str) -> None:
        event = self._state.store.find(event_id)
        if event is not None:
            records = self.deliveries.get(event_id, {}).values()
            event["pending_webhooks"] = sum(1 for r in records if r.status != "succeeded")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _queue(self, endpoint_id: str) -> asyncio.Queue[Job]:
        queue = self._queues.get(endpoint_id)
        if queue is None:
            queue = asyncio.Queue()
            self._queues[endpoint_id] = queue
            self._spawn(self._worker(endpoint_id, queue))
        return queue

    async def _worker(self, endpoint_id: str, queue: asyncio.Queue[Job]) -> None:
        while True:
            batch = [await queue.get()]
            faults = self._state.faults.for_endpoint(endpoint_id)
            if faults.shuffle_window > 1:
                batch += await self._gather(queue, faults.shuffle_window - 1)
                self._state.faults.rng.shuffle(batch)
            for job in batch:
                await self._first_round(job)

    async def _gather(self, queue: asyncio.Queue[Job], wanted: int) -> list[Job]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._state.config.shuffle_flush_ms / 1000
        gathered: list[Job] = []
        while len(gathered) < wanted:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                gathered.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
        return gathered

    def _faults(self, job: Job) -> WebhookFaults:
        if job.bypass_faults:
            return WebhookFaults()
        return self._state.faults.for_endpoint(job.record.endpoint_id)

    async def _first_round(self, job: Job) -> None:
        faults = self._faults(job)
        if faults.delay_ms:
            await asyncio.sleep(faults.delay_ms / 1000)
        if faults.drop_rate and self._state.faults.rng.random() < faults.drop_rate:
            job.record.status = "failed"
            job.record.last_error = "dropped by fault injection"
            log.info("webhook %s -> %s dropped", job.record.event_id, job.record.endpoint_id)
            return
        delivered = False
        for _ in range(1 + faults.duplicate):
            delivered = await self._attempt(job.record, faults) or delivered
        job.rounds = 1
        if not delivered:
            self._schedule_retry(job)

    def _schedule_retry(self, job: Job) -> None:
        if job.record.status == "succeeded":
            return
        if job.rounds >= self._state.config.max_attempts:
            job.record.status = "failed"
            return
        self._spawn(self._retry_later(job, self._state.config.retry_delay_ms(job.rounds)))

    async def _retry_later(self, job: Job, delay_ms: int) -> None:
        await asyncio.sleep(delay_ms / 1000)
        job.rounds += 1
        if not await self._attempt(job.record, self._faults(job)):
            self._schedule_retry(job)

    async def _attempt(self, record: Delivery, faults: WebhookFaults) -> bool:
        endpoint = self._state.store.find(record.endpoint_id)
        event = self._state.store.find(record.event_id)
        if endpoint is None or event is None or endpoint.get("status") != "enabled":
            record.status, record.last_error = "failed", "endpoint deleted or disabled"
            return False
        payload = json.dumps(event, separators=(",", ":"))
        secret = self._state.webhook_secrets.get(endpoint["id"], "")
        rng = self._state.faults.rng
        if faults.bad_signature_rate and rng.random() < faults.bad_signature_rate:
            secret = CORRUPT_SECRET
        record.attempts += 1
        ok = await self._post(
            record, endpoint["url"], payload, sign(payload, secret, int(time.time()))
        )
        if ok:
            record.status = "succeeded"
            self._refresh_pending(record.event_id)
        return ok

    async def _post(self, record: Delivery, url: str, payload: str, signature: str) -> bool:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": signature,
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        timeout = aiohttp.ClientTimeout(total=self._state.config.delivery_timeout_ms / 1000)
        try:
            async with self._client().post(
                url, data=payload.encode(), headers=headers, timeout=timeout
            ) as response:
                await response.read()
                record.last_http_status, record.last_error = response.status, None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            record.last_http_status, record.last_error = None, f"{type(exc).__name__}: {exc}"
            log.info("webhook %s -> %s failed: %s", record.event_id, url, record.last_error)
            return False
        log.info("webhook %s -> %s %s", record.event_id, url, record.last_http_status)
        return 200 <= response.status < 300

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session
