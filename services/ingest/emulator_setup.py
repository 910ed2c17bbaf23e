"""Embedded mode only: ingest registers its two endpoints with the Stripe emulator itself.

`make up` must need no manual step, so when Stripe is the emulator and no secrets are set,
ingest creates a platform and a Connect endpoint (every event type) and uses the `whsec_`
secrets the emulator returns. They are kept in PostgreSQL: a restarted ingest reuses its
endpoints (deliveries being retried still verify), while a restarted emulator, which forgets
them, gets new ones. Other endpoints with our URLs are deleted, so that nothing posts to us
with a secret we no longer hold. Against real Stripe this module is never used.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import stripe

from libs.common.stripe_client import make_client
from services.ingest.publisher import Source
from services.ingest.settings import IngestSettings

log = logging.getLogger(__name__)

PATHS: dict[Source, str] = {"platform": "/webhooks/stripe", "connect": "/webhooks/stripe/connect"}


def _existing(client: stripe.StripeClient) -> list[dict[str, Any]]:
    page = client.v1.webhook_endpoints.list(params={"limit": 100})
    return [e.to_dict() for e in page.auto_paging_iter()]


def _create(client: stripe.StripeClient, url: str, connect: bool) -> tuple[str, str]:
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": url, "enabled_events": ["*"], "connect": connect}
    )
    return endpoint.id, str(endpoint.secret)


def _delete(client: stripe.StripeClient, endpoint_id: str) -> None:
    client.v1.webhook_endpoints.delete(endpoint_id)


async def _one(
    client: stripe.StripeClient,
    pool: asyncpg.Pool,
    key: tuple[str, str, Source],
    existing: list[dict[str, Any]],
) -> str:
    """The secret of our endpoint at `url`: the stored one if the emulator still has it."""
    _, url, source = key
    row = await pool.fetchrow(
        "SELECT endpoint_id, secret FROM ingest_webhook_endpoints"
        " WHERE api_base = $1 AND url = $2 AND kind = $3",
        *key,
    )
    live = {e["id"] for e in existing if e["url"] == url and e.get("status") == "enabled"}
    if row is not None and row["endpoint_id"] in live:
        endpoint_id, secret = str(row["endpoint_id"]), str(row["secret"])
    else:
        endpoint_id, secret = await asyncio.to_thread(_create, client, url, source == "connect")
        await pool.execute(
            "INSERT INTO ingest_webhook_endpoints (api_base, url, kind, endpoint_id, secret)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (api_base, url, kind)"
            " DO UPDATE SET endpoint_id = EXCLUDED.endpoint_id, secret = EXCLUDED.secret",
            *key,
            endpoint_id,
            secret,
        )
        log.info("registered %s webhook endpoint %s -> %s", source, endpoint_id, url)
    for stale in (e["id"] for e in existing if e["url"] == url and e["id"] != endpoint_id):
        await asyncio.to_thread(_delete, client, stale)
    return secret


async def register_endpoints(
    settings: IngestSettings, pool: asyncpg.Pool
) -> dict[Source, tuple[str, ...]]:
    """Both endpoints registered (or reused), and the secret of each."""
    client = make_client(settings)
    api_base = settings.stripe_base_url() or ""
    existing = await asyncio.to_thread(_existing, client)
    secrets: dict[Source, tuple[str, ...]] = {"backfill": ()}
    for source, path in PATHS.items():
        key = (api_base, settings.public_url() + path, source)
        secrets[source] = (await _one(client, pool, key, existing),)
    return secrets
