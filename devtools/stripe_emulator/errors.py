"""Stripe-shaped API errors: `{"error": {"type", "code", "param", "message", ...}}`."""

from __future__ import annotations

from typing import Any

StripeObject = dict[str, Any]


class StripeError(Exception):
    """An API error carried to the HTTP layer, which renders it with `status`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        extra: StripeObject | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param
        self.extra = extra or {}

    def body(self, request_id: str | None = None) -> StripeObject:
        error: StripeObject = {"type": self.error_type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        if request_id is not None:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        error.update(self.extra)
        return {"error": error}


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None
) -> StripeError:
    return StripeError(400, message, param=param, code=code)


def missing_param(param: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {param}.", param=param, code="parameter_missing"
    )


def invalid_integer(param: str, value: object) -> StripeError:
    return StripeError(
        400, f"Invalid integer: {value}", param=param, code="parameter_invalid_integer"
    )


def resource_missing(kind: str, object_id: str, *, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", param=param, code="resource_missing")


def unexpected_state(message: str, *, code: str = "payment_intent_unexpected_state") -> StripeError:
    return StripeError(400, message, code=code)


def authentication_required() -> StripeError:
    return StripeError(
        401,
        "You did not provide an API key. You need to provide your API key in the Authorization "
        "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    )


def invalid_api_key(key: str) -> StripeError:
    shown = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:] if len(key) > 12 else key
    return StripeError(401, f"Invalid API Key provided: {shown}", code="api_key_invalid")


def account_invalid(key: str, account: str) -> StripeError:
    return StripeError(
        403,
        f"The provided key '{key[:8]}***' does not have access to account '{account}' (or that "
        "account does not exist). Application access may have been revoked.",
        code="account_invalid",
    )


def idempotency_conflict(key: str) -> StripeError:
    return StripeError(
        400,
        "Keys for idempotent requests can only be used with the same parameters they were first "
        f"used with. Try using a key other than '{key}' if you meant to execute a different "
        "request.",
        error_type="idempotency_error",
    )


def not_found_route(method: str, path: str) -> StripeError:
    return StripeError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we "
        "can help at https://support.stripe.com/.",
    )


def api_error(status: int = 500) -> StripeError:
    if status == 429:
        return StripeError(
            429,
            "Request rate limit exceeded. (injected by the emulator's api faults)",
            code="rate_limit",
        )
    return StripeError(
        status,
        "An unknown error occurred (injected by the emulator's api faults).",
        error_type="api_error",
    )
