"""Where the tests' infrastructure comes from: embedded processes (default) or containers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict

from devtools.infra.components import ClickHouse, Component, Kafka, Postgres
from devtools.infra.process import InfraError, free_port


class TestSettings(BaseSettings):
    """`PAYMENTS_TEST_BACKEND=testcontainers` runs the same tests against containers."""

    __test__ = False
    model_config = SettingsConfigDict(env_prefix="PAYMENTS_TEST_", frozen=True, extra="ignore")

    backend: str = "embedded"


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    database_url: str
    clickhouse_dsn: str


def _start_on_free_port(kind: type[Component], var_dir: Path, attempts: int = 3) -> Component:
    """A free port can be taken by another process between our look and the server's bind
    (this machine is shared); such a start is tried again on another port."""
    for attempt in range(attempts):
        component = kind(var_dir, free_port())
        try:
            component.up(timeout=60)
            return component
        except InfraError:
            component.down()
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def embedded(var_dir: Path) -> Iterator[Infra]:
    started: list[Component] = []
    try:
        kafka = _start_on_free_port(Kafka, var_dir)
        started.append(kafka)
        postgres = _start_on_free_port(Postgres, var_dir)
        started.append(postgres)
        clickhouse = ClickHouse(var_dir, 0)
        clickhouse.up(timeout=60)
        yield Infra(kafka.url(), postgres.url(), clickhouse.url())
    finally:
        for component in reversed(started):
            component.down()


def _docker_available() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def containers() -> Iterator[Infra]:
    """Apache Kafka, PostgreSQL and ClickHouse server in containers (needs a Docker engine)."""
    try:
        from testcontainers.clickhouse import ClickHouseContainer
        from testcontainers.kafka import KafkaContainer
        from testcontainers.postgres import PostgresContainer
    except ImportError:
        pytest.skip("PAYMENTS_TEST_BACKEND=testcontainers needs: pip install -e '.[containers]'")
    if not _docker_available():
        pytest.skip(
            "PAYMENTS_TEST_BACKEND=testcontainers needs a running Docker engine; none found"
        )
    with (
        KafkaContainer("apache/kafka:3.8.0").with_kraft() as kafka,
        PostgresContainer("postgres:16", driver=None) as pg,
        ClickHouseContainer("clickhouse/clickhouse-server:24.8") as ch,
    ):
        ch_url = (
            f"http://{ch.username}:{ch.password}@{ch.get_container_host_ip()}:"
            f"{ch.get_exposed_port(8123)}/{ch.dbname}"
        )
        yield Infra(kafka.get_bootstrap_server(), pg.get_connection_url(), ch_url)
