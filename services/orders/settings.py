"""Settings of the orders service (worker and HTTP API)."""

from __future__ import annotations

from pydantic import Field

from libs.common.settings import CommonSettings


class OrdersSettings(CommonSettings):
    orders_host: str = Field(default="127.0.0.1", description="orders HTTP API bind address")
    orders_port: int = Field(default=8082, description="orders HTTP API port")
    orders_worker_port: int = Field(default=8083, description="orders worker health port")
    orders_worker_id: str = Field(default="orders", description="Faust app id (consumer group)")
    orders_public_url: str = Field(
        default="http://127.0.0.1:8082", description="base of Checkout's success/cancel URLs"
    )
    orders_fee_policy: str = Field(
        default="",
        description="fee policy as JSON (see services/orders/fees.py FeePolicy); "
        "empty means the defaults there",
    )
    orders_authorization_window_s: int = Field(
        default=6 * 24 * 3600,
        description="a manual-capture authorization not captured within this is canceled "
        "(Stripe itself releases it after 7 days)",
    )
    orders_expiry_scan_interval_s: float = Field(
        default=60.0, description="how often the worker looks for expired authorizations"
    )
    orders_refund_surplus: bool = Field(
        default=True,
        description="refund a second successful payment on an order already paid in full",
    )
    orders_stripe_timeout_s: float = Field(default=20.0, description="deadline of a Stripe call")
    orders_idempotency_takeover_s: float = Field(
        default=60.0,
        description="an API request's Idempotency-Key claim left unanswered this long (its "
        "request crashed) is taken over by a retry; before that a retry gets 409",
    )
    orders_max_attempts: int = Field(
        default=3,
        ge=1,
        description="attempts at a record that fails for other than an infrastructure fault "
        "before it goes to the DLQ",
    )
    orders_stall_after_s: float = Field(
        default=60.0,
        description="/healthz answers 503 when a partition with records waiting has not "
        "advanced for this long",
    )
    orders_command_max_future_s: float = Field(
        default=300.0,
        description="a command issued further ahead of the worker's clock is rejected "
        "(command_from_future)",
    )
    orders_command_max_age_s: float = Field(
        default=7 * 24 * 3600.0,
        description="a command issued longer ago is rejected (command_too_old)",
    )
