"""List objects with Stripe's cursor pagination and `created` range filters."""

from __future__ import annotations

from typing import Any

from devtools.stripe_emulator.errors import StripeError
from devtools.stripe_emulator.forms import Params, get_int

StripeObject = dict[str, Any]

_RANGE_OPS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def filter_range(items: list[StripeObject], params: Params, name: str) -> list[StripeObject]:
    """`created=123` or `created[gte]=123&created[lt]=456` on an integer field."""
    raw = params.get(name)
    if raw is None or raw == "":
        return items
    if not isinstance(raw, dict):
        exact = get_int(params, name)
        return [item for item in items if item.get(name) == exact]
    result = items
    for op in raw:
        if op not in _RANGE_OPS:
            raise StripeError(400, f"Received unknown parameter: {name}[{op}]", param=name)
        bound = get_int(raw, op)
        compare = _RANGE_OPS[op]
        result = [item for item in result if compare(int(item.get(name) or 0), bound)]
    return result


def filter_equal(items: list[StripeObject], params: Params, *fields: str) -> list[StripeObject]:
    for field in fields:
        wanted = params.get(field)
        if wanted is not None and wanted != "":
            items = [item for item in items if _plain_id(item.get(field)) == wanted]
    return items


def _plain_id(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


def list_object(items: list[StripeObject], params: Params, url: str) -> StripeObject:
    """One page of `items` (already newest first) honouring limit/starting_after/ending_before."""
    limit = get_int(params, "limit") or 10
    if not 1 <= limit <= 100:
        raise StripeError(400, "Invalid integer: limit must be between 1 and 100", param="limit")
    ids = [item["id"] for item in items]
    after = params.get("starting_after")
    before = params.get("ending_before")
    if after:
        start = _cursor_index(ids, after, "starting_after") + 1
        page = items[start : start + limit]
        has_more = start + limit < len(items)
    elif before:
        end = _cursor_index(ids, before, "ending_before")
        page = items[max(end - limit, 0) : end]
        has_more = end - limit > 0
    else:
        page = items[:limit]
        has_more = len(items) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


def _cursor_index(ids: list[str], cursor: Any, param: str) -> int:
    if cursor not in ids:
        raise StripeError(404, f"No such object: '{cursor}'", param=param, code="resource_missing")
    return ids.index(cursor)
