"""The subset of Stripe's search query language the project uses.

`email:'a@b.c'`, `metadata['order_id']:'42'`, `status:'succeeded'`, `name~'ann'` (substring),
`-status:'canceled'` (negation), clauses joined by `AND` or by `OR`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from devtools.stripe_emulator.errors import StripeError
from devtools.stripe_emulator.forms import Params, get_int, require_str

StripeObject = dict[str, Any]
Predicate = Callable[[StripeObject], bool]

_CLAUSE = re.compile(
    r"^(?P<neg>-)?(?P<field>[a-z_]+)(?:\['(?P<key>[^']+)'\])?(?P<op>:|~)"
    r"(?:'(?P<quoted>[^']*)'|\"(?P<dquoted>[^\"]*)\"|(?P<bare>[^\s]+))$"
)


def parse_query(query: str) -> Predicate:
    joiner = " OR " if " OR " in query else " AND "
    predicates = [_clause(part.strip()) for part in query.split(joiner) if part.strip()]
    if not predicates:
        raise StripeError(400, "Missing required param: query.", param="query")
    if joiner == " OR ":
        return lambda obj: any(p(obj) for p in predicates)
    return lambda obj: all(p(obj) for p in predicates)


def _clause(text: str) -> Predicate:
    match = _CLAUSE.match(text)
    if match is None:
        raise StripeError(
            400, f"Invalid search query: could not parse clause `{text}`.", param="query"
        )
    field, key, op = match["field"], match["key"], match["op"]
    wanted = next(g for g in (match["quoted"], match["dquoted"], match["bare"]) if g is not None)
    negate = match["neg"] is not None

    def predicate(obj: StripeObject) -> bool:
        value = obj.get(field)
        if key is not None:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return negate
        text_value = str(value).lower() if isinstance(value, bool) else str(value)
        hit = wanted.lower() in text_value.lower() if op == "~" else text_value == wanted
        return hit != negate

    return predicate


def search_object(items: list[StripeObject], params: Params, url: str) -> StripeObject:
    predicate = parse_query(require_str(params, "query"))
    matched = [item for item in items if predicate(item)]
    limit = get_int(params, "limit") or 10
    page = params.get("page")
    start = int(page) if isinstance(page, str) and page.isdigit() else 0
    chunk = matched[start : start + limit]
    has_more = start + limit < len(matched)
    return {
        "object": "search_result",
        "data": chunk,
        "has_more": has_more,
        "next_page": str(start + limit) if has_more else None,
        "url": url,
        "total_count": len(matched),
    }
