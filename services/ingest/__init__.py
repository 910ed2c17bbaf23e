"""Ingest: the only door through which Stripe's events enter the system.

Webhooks are verified on the raw body, deduplicated by event id in PostgreSQL and published to
`stripe.events`; a 2xx goes back to Stripe only once the broker has the record. Backfill pushes
events from Stripe's Events API through the same path, so only missing ones get published.
"""
