"""Counters labelled by endpoint or source: children made once, and shown only once used."""

from __future__ import annotations

from prometheus_client import generate_latest

from services.ingest.metrics import IngestMetrics


def test_a_source_appears_once_counted_and_keeps_its_child() -> None:
    metrics = IngestMetrics()
    assert b'source="connect"' not in generate_latest(metrics.registry)

    metrics.published["connect"].inc()
    metrics.published["connect"].inc()

    assert metrics.published["connect"] is metrics.published["connect"]
    text = generate_latest(metrics.registry).decode()
    assert 'ingest_events_published_total{source="connect"} 2.0' in text
    assert 'source="platform"' not in text
