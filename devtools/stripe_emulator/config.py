"""Run-time settings of the emulator (webhook retry timing, payout timing)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_API_VERSION = "2026-10-28.endive"


@dataclass(frozen=True)
class EmulatorConfig:
    """Timing knobs; tests compress them, `make up` keeps the defaults.

    Stripe retries failed webhooks for days; here the same exponential schedule runs in
    milliseconds: attempt n waits `retry_base_ms * 2**(n-1)`, capped at `retry_max_ms`.
    """

    retry_base_ms: int = 200
    retry_max_ms: int = 10_000
    max_attempts: int = 8
    delivery_timeout_ms: int = 5_000
    shuffle_flush_ms: int = 200
    payout_paid_after_ms: int = 1_000
    api_version: str = DEFAULT_API_VERSION

    def retry_delay_ms(self, attempt: int) -> int:
        """Delay before attempt number `attempt + 1` (attempt counts from 1)."""
        delay: int = self.retry_base_ms * (2 ** max(attempt - 1, 0))
        return min(delay, self.retry_max_ms)
