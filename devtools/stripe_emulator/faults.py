"""Fault injection settings, replaced as a whole by `POST /_emulator/faults`.

Rates are probabilities in [0, 1] (not money). Body shape:
`{"webhooks": {...}, "endpoints": {"we_…": {...}}, "api": {...}, "seed": 42}`; `{}` clears all.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from devtools.stripe_emulator.errors import StripeError


@dataclass(frozen=True)
class WebhookFaults:
    duplicate: int = 0
    shuffle_window: int = 0
    delay_ms: int = 0
    drop_rate: float = 0.0
    bad_signature_rate: float = 0.0

    def active(self) -> bool:
        return self != WebhookFaults()


@dataclass(frozen=True)
class ApiFaults:
    error_rate: float = 0.0
    status: int = 500
    fail_next: int = 0
    latency_ms: int = 0


@dataclass
class Faults:
    webhooks: WebhookFaults = field(default_factory=WebhookFaults)
    endpoints: dict[str, WebhookFaults] = field(default_factory=dict)
    api: ApiFaults = field(default_factory=ApiFaults)
    api_failures_left: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def for_endpoint(self, endpoint_id: str) -> WebhookFaults:
        return self.endpoints.get(endpoint_id, self.webhooks)

    def configure(self, body: dict[str, Any]) -> None:
        self.webhooks = _webhook_faults(body.get("webhooks") or {})
        self.endpoints = {
            str(k): _webhook_faults(v) for k, v in (body.get("endpoints") or {}).items()
        }
        self.api = _api_faults(body.get("api") or {})
        self.api_failures_left = self.api.fail_next
        seed = body.get("seed")
        self.rng = random.Random(seed) if seed is not None else random.Random()

    def take_api_failure(self) -> bool:
        """Whether the current API request should fail (counts down `fail_next` first)."""
        if self.api_failures_left > 0:
            self.api_failures_left -= 1
            return True
        return self.api.error_rate > 0 and self.rng.random() < self.api.error_rate

    def summary(self) -> dict[str, Any]:
        return {
            "webhooks": asdict(self.webhooks),
            "endpoints": {k: asdict(v) for k, v in self.endpoints.items()},
            "api": {**asdict(self.api), "fail_next_remaining": self.api_failures_left},
        }


def _number(raw: dict[str, Any], name: str, kind: type, low: float, high: float) -> Any:
    value = raw.get(name, kind())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StripeError(400, f"Fault `{name}` must be a number.", param=name)
    if not low <= value <= high:
        raise StripeError(400, f"Fault `{name}` must be between {low} and {high}.", param=name)
    return kind(value)


def _webhook_faults(raw: dict[str, Any]) -> WebhookFaults:
    _reject_unknown(raw, WebhookFaults)
    return WebhookFaults(
        duplicate=_number(raw, "duplicate", int, 0, 100),
        shuffle_window=_number(raw, "shuffle_window", int, 0, 10_000),
        delay_ms=_number(raw, "delay_ms", int, 0, 600_000),
        drop_rate=_number(raw, "drop_rate", float, 0, 1),
        bad_signature_rate=_number(raw, "bad_signature_rate", float, 0, 1),
    )


def _api_faults(raw: dict[str, Any]) -> ApiFaults:
    _reject_unknown(raw, ApiFaults)
    status = _number(raw, "status", int, 0, 599) or 500
    if status not in (429, 500, 502, 503, 504):
        raise StripeError(400, "Fault `status` must be one of 429, 500, 502, 503, 504.")
    return ApiFaults(
        error_rate=_number(raw, "error_rate", float, 0, 1),
        status=status,
        fail_next=_number(raw, "fail_next", int, 0, 10_000),
        latency_ms=_number(raw, "latency_ms", int, 0, 600_000),
    )


def _reject_unknown(raw: dict[str, Any], kind: type) -> None:
    if not isinstance(raw, dict):
        raise StripeError(400, "Fault settings must be a JSON object.")
    unknown = set(raw) - {f.name for f in fields(kind)}
    if unknown:
        raise StripeError(400, f"Unknown fault setting(s): {', '.join(sorted(unknown))}")
