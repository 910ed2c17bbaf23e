"""Text that PostgreSQL, Kafka and JSON can all hold.

A PostgreSQL `text` (and `jsonb`) cannot store NUL, and an unpaired UTF-16 surrogate cannot
be encoded as UTF-8 at all: a value carrying either would fail only when the worker writes
it. Our own inputs are refused at the edge (`unstorable`); text Stripe sends is what it is, so
it is kept with those characters replaced (`clean_text`).
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(value: str) -> str | None:
    """Why `value` cannot be stored, or None when it can."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    char = found.group()
    what = "NUL" if char == "\x00" else f"an unpaired surrogate U+{ord(char):04X}"
    return f"contains {what} at position {found.start()}"


def clean_text(value: str) -> str:
    """`value` with NUL and unpaired surrogates replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, value)
