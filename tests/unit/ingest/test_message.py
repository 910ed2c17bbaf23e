"""The hand-written `stripe.events` record decodes with the contract consumers use."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from libs.common.contracts.stripe_events import CONTRACT
from services.ingest import message
from services.ingest.routing import route

RAW = (
    b'{"id": "evt_1", "type": "charge.refunded", "created": 17, "livemode": true,\n'
    b' "api_version": "2026-10-28.endive", "account": "acct_9",'
    b' "data": {"object": {"id": "ch_1", "metadata": {"order_id": "ord_1"}, "note": "\\u00e9"}}}'
)


def test_the_record_decodes_as_the_contract_with_the_event_verbatim() -> None:
    event = json.loads(RAW)
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

    raw = message.encode(event, RAW, "connect", route(event, {}), received_at=at)

    envelope = CONTRACT.decode(raw)
    payload = envelope.payload
    assert (envelope.producer, envelope.correlation_id, envelope.causation_id) == (
        "ingest",
        "ord_1",
        "evt_1",
    )
    assert envelope.occurred_at == at == payload.received_at
    assert (payload.event_id, payload.event_type, payload.created) == (
        "evt_1",
        "charge.refunded",
        17,
    )
    assert (payload.api_version, payload.livemode, payload.account) == (
        "2026-10-28.endive",
        True,
        "acct_9",
    )
    assert (payload.endpoint, payload.object_id, payload.order_id) == ("connect", "ch_1", "ord_1")
    assert payload.event == event
    assert RAW in raw


def test_fields_of_the_wrong_type_are_left_out_rather_than_breaking_consumers() -> None:
    event = {"id": "evt_2", "type": "x.y", "created": 1, "api_version": 7, "account": ["a"],
             "data": {"object": {}}}  # fmt: skip

    payload = CONTRACT.decode(
        message.encode(event, json.dumps(event).encode(), "platform", route(event, {}))
    ).payload

    assert (payload.api_version, payload.account, payload.order_id) == (None, None, None)
    assert payload.object_id is None


def test_message_ids_are_random_version_4_uuids() -> None:
    made = {message.new_message_id() for _ in range(2000)}

    assert len(made) == 2000
    for text in made:
        parsed = uuid.UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (text, 4, uuid.RFC_4122)
