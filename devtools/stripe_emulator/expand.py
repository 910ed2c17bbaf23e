"""`expand[]=latest_charge.balance_transaction`: replace ids by the objects they name."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devtools.stripe_emulator.state import EmulatorState

StripeObject = dict[str, Any]
Include = Callable[["EmulatorState", StripeObject], StripeObject]

# Fields that are not ids but are only rendered on request (`expand[]=line_items`).
INCLUDES: dict[tuple[str, str], Include] = {}

_MAX_DEPTH = 4


def expand(state: EmulatorState, obj: StripeObject, paths: list[str]) -> StripeObject:
    if not paths:
        return obj
    result = copy.deepcopy(obj)
    for path in paths:
        _expand(state, result, path.split(".")[:_MAX_DEPTH])
    return result


def _expand(state: EmulatorState, node: StripeObject, parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if node.get("object") in ("list", "search_result") and head == "data":
        for item in node.get("data", []):
            if rest:
                _expand(state, item, rest)
        return
    include = INCLUDES.get((str(node.get("object")), head))
    value = node.get(head)
    if include is not None and not isinstance(value, dict):
        value = include(state, node)
        node[head] = value
    elif isinstance(value, str):
        found = state.store.find(value)
        if found is not None:
            value = copy.deepcopy(found)
            node[head] = value
    if rest and isinstance(value, dict):
        _expand(state, value, rest)
