"""In-memory objects, owned by the platform (account `None`) or by a connected account."""

from __future__ import annotations

import secrets
import string
import time
from collections import Counter
from typing import Any

from devtools.stripe_emulator.errors import resource_missing

StripeObject = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"


def now() -> int:
    return int(time.time())


class Store:
    """Every object by id, with its owning account and its place in creation order.

    Lists read newest first, as Stripe's do; the creation sequence breaks ties between objects
    created in the same second so that pagination is stable.
    """

    def __init__(self) -> None:
        self.objects: dict[str, StripeObject] = {}
        self.owner: dict[str, str | None] = {}
        self.sequence: dict[str, int] = {}
        self._next = 0

    def add(self, obj: StripeObject, account: str | None) -> StripeObject:
        object_id = obj["id"]
        self.objects[object_id] = obj
        self.owner[object_id] = account
        self.sequence[object_id] = self._next
        self._next += 1
        return obj

    def remove(self, object_id: str) -> None:
        self.objects.pop(object_id, None)
        self.owner.pop(object_id, None)
        self.sequence.pop(object_id, None)

    def find(self, object_id: str) -> StripeObject | None:
        return self.objects.get(object_id)

    def owned(self, kind: str, object_id: str, account: str | None) -> StripeObject | None:
        obj = self.objects.get(object_id)
        if obj is None or obj.get("object") != kind or self.owner.get(object_id) != account:
            return None
        return obj

    def get(
        self,
        kind: str,
        object_id: str,
        account: str | None,
        *,
        label: str | None = None,
        param: str = "id",
    ) -> StripeObject:
        obj = self.owned(kind, object_id, account)
        if obj is None:
            raise resource_missing(label or kind.replace("_", " "), object_id, param=param)
        return obj

    def all(self, kind: str, account: str | None) -> list[StripeObject]:
        found = [
            obj
            for object_id, obj in self.objects.items()
            if obj.get("object") == kind and self.owner.get(object_id) == account
        ]
        return sorted(found, key=lambda o: self.sequence[o["id"]], reverse=True)

    def counts(self) -> dict[str, int]:
        return dict(Counter(str(obj.get("object")) for obj in self.objects.values()))
