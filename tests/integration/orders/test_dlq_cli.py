"""`payments dlq` against the broker: list and show dead letters, replay them to their topic
with their key, and a second replay sends nothing twice."""

from __future__ import annotations

import json

import pytest

from libs.common.kafka.dead_letters import dlq_headers
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import ORDERS_COMMANDS, TopicNames
from services import cli
from tests.support.backends import Infra
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


async def _dead_letter(producer: KafkaProducer, topics: TopicNames, n: int) -> None:
    topic = topics.name(ORDERS_COMMANDS)
    headers = dlq_headers(topic, 0, n, f"bad record {n}", error="DataError", attempts=3)
    await producer.send(
        topics.dlq(ORDERS_COMMANDS), b'{"n": %d}' % n, key=f"ord_{n}", headers=headers
    )


def _payments(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(["dlq", *argv]) == 0
    return capsys.readouterr().out


async def test_list_show_and_replay_once(
    infra: Infra,
    topics: TopicNames,
    producer: KafkaProducer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka_bootstrap)
    monkeypatch.setenv("TOPIC_PREFIX", topics.prefix)
    for n in range(3):
        await _dead_letter(producer, topics, n)

    listed = _payments(capsys, "list", "orders.commands").splitlines()
    assert [line.split("\t")[0] for line in listed] == ["0", "1", "2"]
    assert all("DataError\t3\tbad record" in line for line in listed)

    shown = json.loads(_payments(capsys, "show", "orders.commands", "--offset", "1"))
    assert shown["key"] == "ord_1" and shown["value"] == {"n": 1}
    assert shown["headers"]["dlq.reason"] == "bad record 1"

    assert "replayed 1 " in _payments(capsys, "replay", "orders.commands", "--offset", "0")
    assert "replayed 2 " in _payments(capsys, "replay", "orders.commands")
    assert "replayed 0 " in _payments(capsys, "replay", "orders.commands")

    replayed = await read_topic(
        infra.kafka_bootstrap, topics.name(ORDERS_COMMANDS), expected=3, settle=1.0
    )
    assert sorted((m.key(), m.value()) for m in replayed) == [
        (f"ord_{n}".encode(), b'{"n": %d}' % n) for n in range(3)
    ]


def test_show_of_a_missing_offset_fails(
    infra: Infra, topics: TopicNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka_bootstrap)
    monkeypatch.setenv("TOPIC_PREFIX", topics.prefix)
    assert cli.main(["dlq", "show", "orders.commands", "--offset", "7"]) == 1
