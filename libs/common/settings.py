"""Settings: one frozen class per service on a shared base; nothing else reads the environment.

Every field is an environment variable of the same name in upper case (`kafka_bootstrap_servers`
-> `KAFKA_BOOTSTRAP_SERVERS`). The defaults are the embedded infrastructure that `make up`
starts, so a fresh clone runs with no configuration; production sets the same variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The emulator accepts any `sk_test_` key; this one also tells the settings to use it.
EMULATOR_SECRET_KEY = "sk_test_emulator"  # noqa: S105 - not a secret
DEFAULT_EMULATOR_PORT = 12111
DEFAULT_KAFKA_PORT = 19092
DEFAULT_POSTGRES_PORT = 15432


class CommonSettings(BaseSettings):
    """What every service shares: where the broker, databases and Stripe are."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    var_dir: Path = Field(
        default=Path("var"), description="where embedded infrastructure keeps data, logs, pids"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = Field(default="json", description="log line format")
    kafka_bootstrap_servers: str = Field(
        default=f"127.0.0.1:{DEFAULT_KAFKA_PORT}", description="Kafka brokers, comma-separated"
    )
    topic_prefix: str = Field(default="", description="prepended to every topic name")
    kafka_replication_factor: int = Field(
        default=0,
        ge=0,
        description="replicas of every topic (Faust's changelog too); 0 = auto: 3 on a "
        "cluster of three brokers or more, 1 on a single broker",
    )
    kafka_min_insync_replicas: int = Field(
        default=0,
        ge=0,
        description="min.insync.replicas of every topic; 0 = auto: 2, or 1 on a single broker",
    )
    database_url: SecretStr = Field(
        default=SecretStr(f"postgresql://postgres@127.0.0.1:{DEFAULT_POSTGRES_PORT}/payments"),
        description="PostgreSQL DSN for asyncpg",
    )
    clickhouse_dsn: str = Field(
        default="",
        description="clickhouse-connect DSN (http://user:pass@host:8123/db); "
        "empty means the embedded chDB file under VAR_DIR",
    )
    stripe_secret_key: SecretStr = Field(
        default=SecretStr(EMULATOR_SECRET_KEY), description="Stripe secret key (sk_test_/sk_live_)"
    )
    stripe_api_base: str = Field(
        default="",
        description="Stripe API address; empty means the emulator (on STRIPE_EMULATOR_PORT) "
        "for the emulator's key, and api.stripe.com for a real key",
    )
    stripe_emulator_port: int = Field(
        default=DEFAULT_EMULATOR_PORT, description="Stripe emulator port"
    )

    def stripe_base_url(self) -> str | None:
        """The API base to give the Stripe SDK, or None for the SDK's own (real Stripe)."""
        if self.stripe_api_base:
            return self.stripe_api_base.rstrip("/")
        if self.stripe_secret_key.get_secret_value() == EMULATOR_SECRET_KEY:
            # The port the embedded emulator was started on, so that a second stack on other
            # ports never talks to the first one's emulator.
            return f"http://127.0.0.1:{self.stripe_emulator_port}"
        return None

    def clickhouse_url(self) -> str:
        if self.clickhouse_dsn:
            return self.clickhouse_dsn
        return f"chdb://{(self.var_dir / 'clickhouse' / 'recon.chdb').resolve()}"


class InfraSettings(CommonSettings):
    """Ports and paths of the embedded infrastructure (`payments infra up`)."""

    embedded_kafka_port: int = Field(default=DEFAULT_KAFKA_PORT, description="Tansu broker port")
    embedded_postgres_port: int = Field(
        default=DEFAULT_POSTGRES_PORT, description="embedded PostgreSQL port"
    )
    infra_start_timeout_s: float = Field(default=60.0, description="wait for each component")
