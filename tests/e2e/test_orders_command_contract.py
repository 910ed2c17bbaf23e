"""Every command that names an order is answered: the worker refuses with a code what the
domain must never see (unknown schema version, a key that is not the order id, an issued_at
out of bounds, a schema-invalid body whose ids can still be read); only what names no order
goes to the DLQ alone."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from libs.common.contracts import orders_commands as oc
from libs.common.contracts.envelope import Envelope
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import ORDERS_COMMANDS
from tests.e2e.system import Json, System, dead_letter_headers, new_order

pytestmark = pytest.mark.e2e


def _raw(command: oc.OrderCommandBase, **payload_changes: Any) -> bytes:
    envelope: Envelope[Any] = Envelope(
        producer="backend-api", correlation_id=command.order_id, payload=command
    )
    body = json.loads(oc.CONTRACT.encode(envelope))
    body["payload"].update(payload_changes)
    return json.dumps(body).encode()


async def _rejection(system: System, command_id: str) -> Json:
    return await system.find_fact(
        lambda f: f.get("type") == "CommandRejected" and f.get("command_id") == command_id,
        timeout=60,
    )


async def _send(system: System, commands: KafkaProducer, raw: bytes, key: str | None) -> None:
    await commands.send(system.names.name(ORDERS_COMMANDS), raw, key=key)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"schema_version": 2}, "unsupported_schema_version"),
        ({"issued_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, "command_from_future"),
        ({"issued_at": (datetime.now(UTC) - timedelta(days=30)).isoformat()}, "command_too_old"),
        ({"items": []}, "invalid_command"),
    ],
)
async def test_a_command_the_domain_must_not_see_is_rejected_with_a_code(
    system: System, commands: KafkaProducer, changes: Json, code: str
) -> None:
    order = new_order()
    await _send(system, commands, _raw(order, **changes), order.order_id)
    fact = await _rejection(system, order.command_id)
    assert (fact["code"], fact["order_id"]) == (code, order.order_id)
    assert fact["reason"]
    assert await system.order(order.order_id) is None


async def test_a_command_keyed_by_another_id_is_rejected(
    system: System, commands: KafkaProducer
) -> None:
    order = new_order()
    await _send(system, commands, _raw(order), f"ord_other_{uuid.uuid4().hex[:6]}")
    fact = await _rejection(system, order.command_id)
    assert fact["code"] == "key_mismatch"
    assert await system.order(order.order_id) is None


async def test_a_schema_invalid_command_is_answered_and_kept_on_the_dlq(
    system: System, commands: KafkaProducer
) -> None:
    order = new_order()
    await _send(system, commands, _raw(order, currency=17), order.order_id)
    fact = await _rejection(system, order.command_id)
    assert fact["code"] == "invalid_command" and "currency" in fact["reason"]
    headers = await dead_letter_headers(system.env, ORDERS_COMMANDS, order.order_id)
    assert headers["dlq.error_type"] == "ContractError"


async def test_what_names_no_order_goes_to_the_dlq_alone_and_the_partition_moves_on(
    system: System, commands: KafkaProducer
) -> None:
    key = f"ord_{uuid.uuid4().hex[:12]}"
    await _send(system, commands, b"{not json", key)
    headers = await dead_letter_headers(system.env, ORDERS_COMMANDS, key)
    assert headers["dlq.error_type"] == "ContractError" and headers["dlq.attempts"] == "1"
    after = new_order()
    await system.send(commands, after)
    await system.wait_order(after.order_id, lambda o: o["status"] == "created")
