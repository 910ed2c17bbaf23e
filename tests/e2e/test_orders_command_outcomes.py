"""A command's outcome over HTTP, a command id reused with another body, and the time the worker
took a command beside the client's."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from libs.common.contracts import orders_commands as oc
from libs.common.kafka.producer import KafkaProducer
from tests.e2e.system import Json, System, command, new_order

pytestmark = pytest.mark.e2e


async def outcome(system: System, command_id: str, until: Any, timeout: float = 30.0) -> Json:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        reply = await system.request("GET", f"/commands/{command_id}")
        if until(reply):
            return {"status_code": reply.status, **reply.body}
        assert loop.time() < deadline, reply.body
        await asyncio.sleep(0.2)


async def test_each_command_s_outcome_is_served_by_id(
    system: System, commands: KafkaProducer
) -> None:
    # given an order created, and a command it refuses
    order = new_order()
    await system.send(commands, order)
    applied = await outcome(system, order.command_id, lambda r: r.status == 200)
    assert (applied["status"], applied["order_id"]) == ("applied", order.order_id)
    assert applied["facts"] == ["OrderCreated"] and applied["accepted_at"]
    complete = command(oc.CompleteOrder, order.order_id)
    await system.send(commands, complete)
    rejected = await outcome(system, complete.command_id, lambda r: r.status == 200)
    assert (rejected["status"], rejected["code"]) == ("rejected", "illegal_transition")
    assert rejected["reason"]
    # and an id no command had is unknown
    unknown = await system.request("GET", "/commands/cmd_never_sent")
    assert unknown.status == 404
    assert unknown.body["error"]["code"] == "command_unknown"
    assert unknown.body["error"]["status"] == "unknown"


async def test_a_command_id_reused_with_another_body_is_refused_not_dropped(
    system: System, commands: KafkaProducer
) -> None:
    order = new_order()
    await system.send(commands, order)
    await system.wait_order(order.order_id, lambda o: o["status"] == "created")
    # when the same command is sent again, rebuilt with a new issued_at: nothing happens
    again = order.model_copy(update={"issued_at": order.issued_at + timedelta(seconds=1)})
    await system.send(commands, again)
    # when the id is used again for another body
    other = order.model_copy(update={"currency": "eur"})
    await system.send(commands, other)
    # then that one is answered command_conflict, and the first stays what it was
    refusal = await system.find_fact(
        lambda f: f.get("command_id") == order.command_id and f["type"] == "CommandRejected"
    )
    assert refusal["code"] == "command_conflict"
    facts = await system.facts_of(order.order_id)
    rejections = [f for f in facts if f["type"] == "CommandRejected"]
    assert len(rejections) == 1
    first = await outcome(system, order.command_id, lambda r: r.status == 200)
    assert first["status"] == "applied"
    still = await system.order(order.order_id)
    assert still is not None and still["currency"] == "usd"


async def test_the_timeline_shows_when_the_worker_took_a_command(
    system: System, commands: KafkaProducer
) -> None:
    order = new_order()
    late = order.model_copy(update={"issued_at": order.issued_at.replace(microsecond=0)})
    await system.send(commands, late)
    await system.wait_order(order.order_id, lambda o: o["status"] == "created")
    created = (await system.timeline(order.order_id))[0]
    assert created["kind"] == "OrderCreated"
    accepted = datetime.fromisoformat(created["accepted_at"])
    assert accepted >= datetime.fromisoformat(created["at"])
