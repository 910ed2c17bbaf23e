"""Settings of the ingest service (environment variable = field name in upper case)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from libs.common.settings import EMULATOR_SECRET_KEY, CommonSettings

DEFAULT_INGEST_PORT = 8100
MIB = 1024 * 1024


def split_secrets(raw: SecretStr) -> tuple[str, ...]:
    """Several secrets in one variable, comma-separated: old and new both hold during rotation."""
    return tuple(s.strip() for s in raw.get_secret_value().split(",") if s.strip())


class IngestSettings(CommonSettings):
    """Where ingest listens, what it accepts, how long it waits for the broker."""

    ingest_host: str = Field(default="127.0.0.1", description="address the HTTP server binds")
    ingest_port: int = Field(default=DEFAULT_INGEST_PORT, description="HTTP port of ingest")
    ingest_public_url: str = Field(
        default="",
        description="URL Stripe posts webhooks to (embedded mode registers it with the "
        "emulator); empty means http://INGEST_HOST:INGEST_PORT",
    )
    stripe_webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="whsec_ secret(s) of the platform endpoint, comma-separated for rotation",
    )
    stripe_connect_webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="whsec_ secret(s) of the Connect endpoint, comma-separated for rotation",
    )
    webhook_tolerance_s: int = Field(
        default=300, description="accepted signature age, in both directions (clock skew)"
    )
    webhook_max_body_bytes: int = Field(default=MIB, description="larger bodies get 413")
    publish_timeout_s: float = Field(
        default=3.0, description="deadline for the broker's delivery report; past it, 503"
    )
    dedupe_memory_size: int = Field(
        default=100_000, description="recently published event ids answered from memory"
    )
    publish_workers: int = Field(
        default=1,
        description="batches claimed and published concurrently (each holds a DB "
        "connection for the length of its publish); one makes the largest batches under "
        "load, which costs the broker and the database least per event",
    )
    publish_max_batch: int = Field(default=256, description="events per claim transaction")
    publish_queue_max: int = Field(
        default=5_000,
        ge=1,
        description="webhooks waiting to be published; past it new ones get 503 overloaded at "
        "once (Stripe retries), instead of waiting out PUBLISH_TIMEOUT_S in a queue",
    )
    publish_linger_ms: float = Field(
        default=0.0,
        description="how long the producer waits to fill a request to the broker; under load "
        "requests fill by themselves",
    )
    dedupe_synchronous_commit: bool = Field(
        default=False,
        description="wait for PostgreSQL's WAL flush on each claim commit. Off, a commit does "
        "not wait for the disk (on a shared disk single flushes took 40-750 ms, and every "
        "webhook behind them waited as long), and a PostgreSQL crash can forget the last "
        "fraction of a second of claims: a later delivery of one of those events is published "
        "once more, never lost",
    )
    ingest_db_pool_size: int = Field(default=8, description="PostgreSQL connections")
    backfill_on_start: bool = Field(
        default=True, description="backfill from the last event seen when the server starts"
    )
    backfill_interval_s: float = Field(
        default=300.0, description="seconds between automatic backfills; 0 turns them off"
    )
    backfill_overlap_s: int = Field(
        default=900,
        description="automatic backfills start this long before the last event seen, to "
        "catch events whose delivery was still being retried",
    )
    backfill_slice_s: int = Field(
        default=3600,
        ge=1,
        description="a backfill lists and publishes this much of its window at a time, so "
        "that a long window is never held in memory whole",
    )

    def webhook_secrets(self) -> tuple[str, ...]:
        return split_secrets(self.stripe_webhook_secret)

    def connect_webhook_secrets(self) -> tuple[str, ...]:
        return split_secrets(self.stripe_connect_webhook_secret)

    def public_url(self) -> str:
        return (self.ingest_public_url or f"http://{self.ingest_host}:{self.ingest_port}").rstrip(
            "/"
        )

    def embedded_emulator(self) -> bool:
        """The emulator is our Stripe and nobody gave us secrets: register endpoints ourselves."""
        uses_emulator = (
            self.stripe_secret_key.get_secret_value() == EMULATOR_SECRET_KEY
            and self.stripe_base_url() is not None
        )
        return uses_emulator and not self.webhook_secrets() and not self.connect_webhook_secrets()
