"""Who is calling: the account in scope and the API request that causes events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devtools.stripe_emulator.errors import StripeError
from devtools.stripe_emulator.forms import Params

if TYPE_CHECKING:
    from devtools.stripe_emulator.state import EmulatorState

StripeObject = dict[str, Any]


@dataclass(frozen=True)
class RequestContext:
    """`account` is the `Stripe-Account` in scope (None: the platform).

    Emulator-internal actions (3DS completion, disputes, payouts landing) have no request id:
    on Stripe they are Stripe's own or dashboard actions.
    """

    account: str | None
    request_id: str | None = None
    idempotency_key: str | None = None

    def request_ref(self) -> StripeObject:
        return {"id": self.request_id, "idempotency_key": self.idempotency_key}


def internal(account: str | None) -> RequestContext:
    return RequestContext(account=account)


@dataclass
class ApiCall:
    """Everything a resource handler needs; handlers are synchronous, so each call is atomic."""

    state: EmulatorState
    ctx: RequestContext
    params: Params
    path: dict[str, str] = field(default_factory=dict)
    url: str = ""
    base_url: str = "http://127.0.0.1:12111"

    @property
    def account(self) -> str | None:
        return self.ctx.account

    def path_id(self, name: str = "id") -> str:
        value = self.path.get(name)
        if not value:
            raise StripeError(404, f"Missing {name} in path")
        return value


Handler = Callable[[ApiCall], StripeObject]
Route = tuple[str, str, Handler]
