"""Shared fixtures: one broker, one PostgreSQL and one ClickHouse engine per test session,
started as real processes; a fresh topic prefix and consumer group for every test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from libs.common.kafka.admin import ensure_topics
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import TopicNames
from tests.support.backends import Infra, TestSettings, containers, embedded


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    if TestSettings().backend == "testcontainers":
        with containers() as found:
            yield found
    else:
        with embedded(tmp_path_factory.mktemp("var")) as found:
            yield found


@pytest.fixture
def topics(infra: Infra) -> TopicNames:
    names = TopicNames(prefix=f"t{uuid.uuid4().hex[:10]}.")
    ensure_topics(infra.kafka_bootstrap, names.all_names())
    return names


@pytest.fixture
def group_id() -> str:
    return f"g-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def producer(infra: Infra) -> AsyncIterator[KafkaProducer]:
    client = KafkaProducer(infra.kafka_bootstrap, client_id="tests")
    yield client
    client.close()
