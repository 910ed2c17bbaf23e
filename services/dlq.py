"""`payments dlq list|show|replay TOPIC`: look at a topic's dead letters and re-drive them.

A DLQ has one partition. Replay sends each record to the topic it came from (`dlq.topic`)
with its original key and value, so it takes the normal path and the consumers' dedupe still
holds; the consumer group `payments-dlq-replay` keeps the offset up to which the DLQ was
replayed, so a second replay sends nothing twice.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

import confluent_kafka

from libs.common.settings import CommonSettings

REPLAY_GROUP = "payments-dlq-replay"
SHOWN = ("dlq.failed_at", "dlq.error_type", "dlq.attempts", "dlq.reason")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "show", "replay"])
    parser.add_argument("topic", help="the topic whose DLQ to read, e.g. orders.commands")
    parser.add_argument(
        "--offset", type=int, help="show: this dead letter; replay: up to and including it"
    )


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    settings = CommonSettings()
    dlq = f"{settings.topic_prefix}{args.topic}.dlq"
    bootstrap = settings.kafka_bootstrap_servers
    if args.action == "list":
        for msg in read(bootstrap, dlq):
            headers = _headers(msg)
            print(msg.offset(), *(headers.get(name, "") for name in SHOWN), sep="\t", file=out)
        return 0
    if args.action == "show":
        if args.offset is None:
            print("payments dlq show: --offset is required", file=sys.stderr)
            return 2
        found = [m for m in read(bootstrap, dlq) if m.offset() == args.offset]
        if not found:
            print(f"payments dlq: no dead letter at offset {args.offset}", file=sys.stderr)
            return 1
        print(json.dumps(_describe(found[0]), indent=2), file=out)
        return 0
    sent = replay(bootstrap, dlq, up_to=args.offset)
    print(f"replayed {sent} dead letter(s) from {dlq}", file=out)
    return 0


def read(bootstrap: str, dlq: str, start: int = confluent_kafka.OFFSET_BEGINNING) -> list[Any]:
    """The dead letters of `dlq` from `start` to its end as it is now."""
    consumer = confluent_kafka.Consumer(_config(bootstrap, REPLAY_GROUP))
    try:
        low, high = consumer.get_watermark_offsets(
            confluent_kafka.TopicPartition(dlq, 0), timeout=10
        )
        if high <= max(low, start):
            return []
        consumer.assign([confluent_kafka.TopicPartition(dlq, 0, start)])
        found: list[Any] = []
        while not found or found[-1].offset() < high - 1:
            batch = consumer.consume(500, 5.0)
            if not batch:
                break
            found.extend(m for m in batch if not m.error())
        return found
    finally:
        consumer.close()


def replay(bootstrap: str, dlq: str, up_to: int | None = None) -> int:
    """Send the dead letters not replayed yet (up to `up_to`) to their topics; then mark them."""
    marker = confluent_kafka.Consumer(_config(bootstrap, REPLAY_GROUP))
    try:
        (committed,) = marker.committed([confluent_kafka.TopicPartition(dlq, 0)], timeout=10)
        start = committed.offset if committed.offset >= 0 else confluent_kafka.OFFSET_BEGINNING
        pending = [m for m in read(bootstrap, dlq, start) if up_to is None or m.offset() <= up_to]
        if not pending:
            return 0
        producer = confluent_kafka.Producer(
            {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True}
        )
        for msg in pending:
            producer.produce(_headers(msg)["dlq.topic"], msg.value(), msg.key())
        if producer.flush(30) != 0:
            raise RuntimeError("the broker did not take every replayed record; nothing marked")
        mark = confluent_kafka.TopicPartition(dlq, 0, pending[-1].offset() + 1)
        marker.commit(offsets=[mark], asynchronous=False)
        return len(pending)
    finally:
        marker.close()


def _config(bootstrap: str, group: str) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}


def _headers(msg: Any) -> dict[str, str]:
    return {k: (v or b"").decode(errors="replace") for k, v in msg.headers() or []}


def _describe(msg: Any) -> dict[str, Any]:
    value = msg.value() or b""
    try:
        body: Any = json.loads(value)
    except ValueError:
        body = value.decode(errors="replace")
    key = msg.key()
    return {
        "offset": msg.offset(),
        "key": key.decode(errors="replace") if key is not None else None,
        "headers": _headers(msg),
        "value": body,
    }
