"""Everything ingest holds while it runs: pool, producer, secrets, publisher, backfill timer.

Start-up never waits for the broker: topics are ensured in the background, and until the
broker answers, webhooks get 503 (Stripe retries) and `/readyz` says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import asyncpg

from libs.common.kafka.admin import Durability, TopicTooWeak, ensure_topics
from libs.common.topics import STRIPE_EVENTS, TopicNames
from services.ingest import backfill, emulator_setup
from services.ingest.adapters.kafka import KafkaBroker
from services.ingest.adapters.postgres import PostgresLedger, open_pool
from services.ingest.dedupe import RecentIds
from services.ingest.metrics import IngestMetrics
from services.ingest.publisher import Broker, Publisher, Source
from services.ingest.settings import IngestSettings

log = logging.getLogger(__name__)


@dataclass
class IngestRuntime:
    settings: IngestSettings
    metrics: IngestMetrics
    pool: asyncpg.Pool
    broker: Broker
    ledger: PostgresLedger
    publisher: Publisher
    secrets: dict[Source, tuple[str, ...]]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    accounts: backfill.Accounts = field(default_factory=backfill.Accounts)
    """Connected accounts seen so far: each automatic backfill lists only the new ones."""

    @classmethod
    async def start(
        cls,
        settings: IngestSettings,
        metrics: IngestMetrics,
        *,
        auto_backfill: bool | None = None,
        webhooks: bool = True,
    ) -> IngestRuntime:
        """`webhooks=False` (the backfill command) skips secrets and endpoint registration."""
        dsn = settings.database_url.get_secret_value()
        pool = await open_pool(
            dsn,
            settings.ingest_db_pool_size,
            synchronous_commit=settings.dedupe_synchronous_commit,
        )
        broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            delivery_timeout_s=settings.publish_timeout_s * 0.8,
            linger_ms=settings.publish_linger_ms,
        )
        ledger = PostgresLedger(pool)
        publisher = Publisher(
            ledger,
            broker,
            topic=TopicNames(settings.topic_prefix).name(STRIPE_EVENTS),
            metrics=metrics,
            recent=RecentIds(settings.dedupe_memory_size),
            deadline_s=settings.publish_timeout_s,
            workers=settings.publish_workers,
            max_batch=settings.publish_max_batch,
            queue_max=settings.publish_queue_max,
        )
        secrets = await _secrets(settings, pool) if webhooks else {}
        runtime = cls(settings, metrics, pool, broker, ledger, publisher, secrets)
        # A topic weaker than the settings ask stops ingest here, before it serves; a broker
        # not answering yet does not: webhooks get 503 until it does.
        if not await runtime._topics_once():
            runtime.tasks.append(asyncio.create_task(runtime._ensure_topics()))
        if settings.backfill_on_start if auto_backfill is None else auto_backfill:
            runtime.tasks.append(asyncio.create_task(runtime._backfill_forever()))
        return runtime

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.publisher.close()
        await asyncio.to_thread(self.broker.close)
        await self.pool.close()

    async def readiness(self) -> dict[str, bool]:
        broker = await self.broker.reachable(timeout_s=2.0)
        try:
            database = await self.pool.fetchval("SELECT 1", timeout=2.0) == 1
        except (OSError, asyncpg.PostgresError, TimeoutError):
            database = False
        return {"broker": broker, "database": database}

    async def _topics_once(self) -> bool:
        names = TopicNames(self.settings.topic_prefix).all_names()
        try:
            await asyncio.to_thread(
                ensure_topics,
                self.settings.kafka_bootstrap_servers,
                names,
                5.0,
                Durability.of(self.settings),
            )
            return True
        except TopicTooWeak:
            raise
        except Exception as exc:
            log.warning("topics not ensured yet (%s); retrying", exc)
            return False

    async def _ensure_topics(self) -> None:
        # Polling a broker that may not be up yet: there is no event of ours to wait on.
        while not await self._topics_once():  # noqa: ASYNC110
            await asyncio.sleep(2.0)

    async def _backfill_forever(self) -> None:
        """At start-up, then every `backfill_interval_s`: resume from the last event seen."""
        interval = self.settings.backfill_interval_s
        while True:
            try:
                report = await backfill.resume(
                    self.settings, self.ledger, self.publisher, self.accounts
                )
                log.info("automatic backfill: %s", report.summary())
            except Exception:
                log.exception("automatic backfill failed; the next run will try again")
            if interval <= 0:
                return
            await asyncio.sleep(interval)


async def _secrets(settings: IngestSettings, pool: asyncpg.Pool) -> dict[Source, tuple[str, ...]]:
    if settings.embedded_emulator():
        return await emulator_setup.register_endpoints(settings, pool)
    secrets: dict[Source, tuple[str, ...]] = {
        "platform": settings.webhook_secrets(),
        "connect": settings.connect_webhook_secrets(),
        "backfill": (),
    }
    for source in ("platform", "connect"):
        if not secrets[source]:
            log.warning("no webhook secret for the %s endpoint: it will refuse everything", source)
    return secrets
