"""Ingest's Prometheus metrics, one registry per app so that tests can run several apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class PerSource:
    """A counter labelled by endpoint or source, its children looked up once each:
    prometheus_client's `.labels()` takes a lock and builds a tuple on every call. A child
    appears in /metrics only once used, as with `.labels()`."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self._children: dict[str, Counter] = {}

    def __getitem__(self, source: str) -> Counter:
        child = self._children.get(source)
        if child is None:
            child = self._children[source] = self.counter.labels(source)
        return child


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.received = PerSource(
            Counter(
                "ingest_webhooks_received", "webhook requests", ["endpoint"], registry=self.registry
            )
        )
        self.verified = PerSource(
            Counter(
                "ingest_webhooks_verified",
                "webhook requests with a valid signature",
                ["endpoint"],
                registry=self.registry,
            )
        )
        self.rejected = Counter(
            "ingest_webhooks_rejected",
            "webhook requests refused, by reason",
            ["endpoint", "reason"],
            registry=self.registry,
        )
        self.duplicates = PerSource(
            Counter(
                "ingest_events_duplicate",
                "events already published, acknowledged again",
                ["source"],
                registry=self.registry,
            )
        )
        self.published = PerSource(
            Counter(
                "ingest_events_published",
                "events put on stripe.events",
                ["source"],
                registry=self.registry,
            )
        )
        self.publish_latency = Histogram(
            "ingest_publish_latency_seconds",
            "claim + produce + delivery report + commit, per new event",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "ingest_publish_batch_size",
            "events per claim transaction (concurrent webhooks share one)",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.other_api_version = Counter(
            "ingest_events_other_api_version",
            "events rendered in another API version than the pinned one, by version",
            ["api_version"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "ingest_publish_queue_depth",
            "webhooks waiting for a claim batch",
            registry=self.registry,
        )
