"""A stateful Stripe API emulator (test mode) with signed webhook delivery and fault injection."""

from devtools.stripe_emulator.app import create_app
from devtools.stripe_emulator.config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app"]
