"""Stripe webhook signatures, checked on the raw body before anything else reads it.

`Stripe-Signature: t=<unix time>,v1=<hex>,v1=<hex>,...` where each v1 is HMAC-SHA256 over
`"<t>.<raw body>"` keyed by an endpoint secret. Stripe sends several v1 values while it rolls a
secret, and we may hold several secrets while we roll ours: any pair that matches is enough.
Unlike the SDK, a timestamp too far in the *future* is rejected too: a signature minted ahead of
time would otherwise be replayable for longer than the tolerance says.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

MAX_HEADER_LENGTH = 4096


class SignatureError(ValueError):
    """Why a request is not proof that Stripe sent this body; `reason` is machine-readable."""

    reason = "bad_signature"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingSignature(SignatureError):
    reason = "missing_signature"


class MalformedSignature(SignatureError):
    reason = "malformed_signature"


class NoMatchingSignature(SignatureError):
    reason = "bad_signature"


class StaleTimestamp(SignatureError):
    reason = "stale_timestamp"


class FutureTimestamp(SignatureError):
    reason = "future_timestamp"


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    timestamp: int
    signatures: tuple[bytes, ...]


def parse_header(header: str | None) -> SignatureHeader:
    """Read `t` and every `v1`; other schemes (v0, future ones) are ignored, as Stripe asks."""
    if not header or not header.strip():
        raise MissingSignature("the Stripe-Signature header is missing")
    if len(header) > MAX_HEADER_LENGTH:
        raise MalformedSignature("the Stripe-Signature header is too long")
    timestamp: int | None = None
    signatures: list[bytes] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise MalformedSignature(f"unreadable item in Stripe-Signature: {item.strip()[:40]!r}")
        if key == "t":
            timestamp = _timestamp(value)
        elif key == "v1":
            signatures.append(value.strip().encode("ascii", "replace"))
    if timestamp is None:
        raise MalformedSignature("the Stripe-Signature header has no timestamp (t=)")
    if not signatures:
        raise MalformedSignature("the Stripe-Signature header has no v1 signature")
    return SignatureHeader(timestamp, tuple(signatures))


def _timestamp(value: str) -> int:
    # ASCII digits only: `str.isdigit` accepts superscripts and other scripts' digits, some of
    # which `int` then refuses; and a Unix time has no more than a dozen digits.
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 12):
        raise MalformedSignature("the Stripe-Signature timestamp is not a whole number")
    return int(digits)


def expected_signature(secret: str, timestamp: int, payload: bytes) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def verify(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance_s: int,
    now: float,
) -> int:
    """Raise a `SignatureError` unless one of `secrets` signed `payload` within `tolerance_s`
    of `now` (either way); returns the signed timestamp.

    The HMAC is checked before the clock so that a forged request learns nothing about our
    clock; every candidate is compared in constant time and none short-circuits the loop.
    """
    parsed = parse_header(header)
    if not secrets:
        raise NoMatchingSignature("no webhook secret is configured for this endpoint")
    matched = False
    for secret in secrets:
        expected = expected_signature(secret, parsed.timestamp, payload).encode()
        for candidate in parsed.signatures:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise NoMatchingSignature("no v1 signature matches this body and our webhook secrets")
    age = now - parsed.timestamp
    if age > tolerance_s:
        raise StaleTimestamp(f"the signature is {int(age)} s old; the tolerance is {tolerance_s} s")
    if -age > tolerance_s:
        raise FutureTimestamp(
            f"the signature is dated {int(-age)} s ahead; the tolerance is {tolerance_s} s"
        )
    return parsed.timestamp
