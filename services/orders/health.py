"""The worker's `/healthz` and `/metrics`: 503 with the reason while a partition is stalled;
consumer lag and seconds since the last commit per input partition; dead letters per topic
and error type."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from services.orders.progress import Progress, TopicPartition

log = logging.getLogger(__name__)
HIGHWATER_TIMEOUT_S = 2.0


class WorkerHealth:
    def __init__(self, stall_after_s: float) -> None:
        self.progress = Progress()
        self.stall_after_s = stall_after_s
        self.registry = CollectorRegistry()
        self.dead_letters = Counter(
            "orders_dead_letters", "records sent to a DLQ", ["topic", "reason"],
            registry=self.registry,
        )  # fmt: skip
        self._lag = Gauge(
            "orders_consumer_lag", "records waiting per input partition", ["topic", "partition"],
            registry=self.registry,
        )  # fmt: skip
        self._since_commit = Gauge(
            "orders_seconds_since_commit", "seconds since the partition last advanced",
            ["topic", "partition"], registry=self.registry,
        )  # fmt: skip

    def dead_lettered(self, topic: str, reason: str) -> None:
        self.dead_letters.labels(topic=topic, reason=reason).inc()

    async def check(self, app: Any) -> list[str]:
        """Why the worker is stalled (nothing when it is not); refreshes the gauges. Only
        the partitions assigned now count: a revoked one is another worker's to advance."""
        assigned = app.assigned()
        for tp in set(self.progress.partitions) - assigned:
            del self.progress.partitions[tp]
        highwaters = await _highwaters(app, list(self.progress.partitions))
        now = time.monotonic()
        for tp, entry in self.progress.partitions.items():
            labels = {"topic": tp[0], "partition": str(tp[1])}
            lag = self.progress.lag(tp, highwaters.get(tp))
            if lag is not None:
                self._lag.labels(**labels).set(lag)
            if entry.advanced_at is not None:
                self._since_commit.labels(**labels).set(now - entry.advanced_at)
        return self.progress.stalled(highwaters, now, self.stall_after_s)

    def install(self, app: Any) -> None:
        @app.page("/healthz")
        async def healthz(web: Any, request: Any) -> Any:
            assigned = sorted(f"{topic}:{partition}" for topic, partition in app.assigned())
            stalled = await self.check(app)
            if stalled:
                body = {"status": "stalled", "reasons": stalled, "assigned": assigned}
                return web.json(body, status=503)
            return web.json({"status": "ok", "assigned": assigned})

        @app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            await self.check(app)
            return web.bytes(generate_latest(self.registry), content_type=CONTENT_TYPE_LATEST)


async def _highwaters(app: Any, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    if not tps:
        return {}
    try:
        return await asyncio.wait_for(app.end_offsets(tps), HIGHWATER_TIMEOUT_S)
    except Exception as exc:  # the broker unreachable: judge by what is in flight alone
        log.warning("cannot read the partitions' end offsets: %r", exc)
        return {}
