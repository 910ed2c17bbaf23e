"""Stripe's form encoding (`a[b][c]=x`, `items[0][price]=x`, `expand[]=x`) to nested values.

Values stay strings as they arrive; the typed getters below coerce them and raise Stripe's own
parameter errors, so every resource validates its input the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from devtools.stripe_emulator.errors import StripeError, invalid_integer, missing_param

Params = dict[str, Any]

_SEGMENT = re.compile(r"\[([^\]]*)\]")
_MAP_FIELDS = frozenset({"metadata", "evidence"})


def split_key(key: str) -> list[str]:
    """`items[0][price_data][currency]` -> `["items", "0", "price_data", "currency"]`."""
    head, _, rest = key.partition("[")
    if not rest:
        return [key]
    return [head, *_SEGMENT.findall("[" + rest)]


def decode_pairs(pairs: Iterable[tuple[str, str]]) -> Params:
    root: Params = {}
    for key, value in pairs:
        _assign(root, split_key(key), value)
    return _listify(root, parent="")


def decode_form(body: str) -> Params:
    return decode_pairs(parse_qsl(body, keep_blank_values=True))


def _assign(node: Params, path: list[str], value: str) -> None:
    for segment in path[:-1]:
        key = segment if segment else str(len(node))
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    last = path[-1]
    node[last if last else str(len(node))] = value


def _listify(node: Params, parent: str) -> Any:
    converted = {k: _listify(v, k) if isinstance(v, dict) else v for k, v in node.items()}
    if parent in _MAP_FIELDS or not converted:
        return converted
    if all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def get_str(params: Params, name: str, *, required: bool = False) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing_param(name)
        return None
    if not isinstance(value, str):
        raise StripeError(
            400, f"Invalid string: {name}", param=name, code="parameter_invalid_string"
        )
    return value


def require_str(params: Params, name: str) -> str:
    value = get_str(params, name, required=True)
    assert value is not None
    return value


def get_int(params: Params, name: str, *, required: bool = False) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise missing_param(name)
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw):
        raise invalid_integer(name, raw)
    return int(raw)


def require_int(params: Params, name: str) -> int:
    value = get_int(params, name, required=True)
    assert value is not None
    return value


def get_bool(params: Params, name: str, default: bool = False) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    if raw in ("true", "false"):
        return raw == "true"
    raise StripeError(400, f"Invalid boolean: {raw}", param=name, code="parameter_invalid_boolean")


def get_dict(params: Params, name: str) -> Params:
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise StripeError(400, f"Invalid hash: {name}", param=name, code="parameter_invalid_hash")
    return value


def get_list(params: Params, name: str) -> list[Any]:
    value = params.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def merge_metadata(current: dict[str, str], params: Params) -> dict[str, str]:
    """Stripe's metadata update: keys set to "" are removed, `metadata=""` clears all."""
    if params.get("metadata") == "":
        return {}
    merged = dict(current)
    for key, value in get_dict(params, "metadata").items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[str(key)] = str(value)
    return merged


def expand_paths(params: Params) -> list[str]:
    return [str(p) for p in get_list(params, "expand")]
