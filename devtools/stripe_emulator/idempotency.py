"""`Idempotency-Key` as Stripe documents it.

The same key with the same parameters replays the first response (status and body, with
`Idempotent-Replayed: true`); the same key with other parameters or on another endpoint is an
`idempotency_error`. Keys are scoped to the API key and the `Stripe-Account` in use. As on Stripe,
only requests that ran are stored: successes and card errors (402). A request refused by
validation (other 4xx) or failing on the server (5xx) can be retried with the same key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from devtools.stripe_emulator.errors import StripeError, idempotency_conflict
from devtools.stripe_emulator.forms import Params


@dataclass(frozen=True)
class StoredResponse:
    method: str
    path: str
    fingerprint: str
    status: int
    body: str


Scope = tuple[str, str | None, str]


def fingerprint(params: Params) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


class IdempotencyCache:
    def __init__(self) -> None:
        self._responses: dict[Scope, StoredResponse] = {}

    def lookup(self, scope: Scope, method: str, path: str, params: Params) -> StoredResponse | None:
        stored = self._responses.get(scope)
        if stored is None:
            return None
        if (stored.method, stored.path) != (method, path):
            raise StripeError(
                400,
                f"Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{stored.method} {stored.path}' vs '{method} {path}'). Try using "
                f"a key other than '{scope[2]}' if you meant to execute a different request.",
                error_type="idempotency_error",
            )
        if stored.fingerprint != fingerprint(params):
            raise idempotency_conflict(scope[2])
        return stored

    def save(
        self, scope: Scope, method: str, path: str, params: Params, status: int, body: str
    ) -> None:
        if status >= 400 and status != 402:
            return
        self._responses[scope] = StoredResponse(method, path, fingerprint(params), status, body)

    def clear(self) -> None:
        self._responses.clear()

    def __len__(self) -> int:
        return len(self._responses)
