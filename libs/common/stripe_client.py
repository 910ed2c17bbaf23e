"""The one place that builds a Stripe client: API version pinned, base address from settings.

Every service edge that talks to Stripe takes a `stripe.StripeClient` from here, so that the
emulator and real Stripe differ only by settings. The version is pinned so that a Stripe
account upgrade cannot change the shape of objects under us.
"""

from __future__ import annotations

import stripe
from stripe._base_address import BaseAddresses

from libs.common.settings import CommonSettings

# Pinned once; the emulator answers in this version's shapes.
STRIPE_API_VERSION = "2026-10-28.endive"


def make_client(
    settings: CommonSettings,
    *,
    max_network_retries: int = 2,
    asynchronous: bool = False,
    timeout_s: float = 30.0,
) -> stripe.StripeClient:
    """Build the client; `max_network_retries` is safe because every mutating call we make
    carries an idempotency key. Services call the `*_async` methods, served by aiohttp."""
    base = settings.stripe_base_url()
    addresses: BaseAddresses | None = None
    if base is not None:
        addresses = {"api": base, "connect": base, "files": base}
    return stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        stripe_version=STRIPE_API_VERSION,
        base_addresses=addresses,
        max_network_retries=max_network_retries,
        http_client=stripe.AIOHTTPClient(timeout=timeout_s) if asynchronous else None,
    )
