"""The partition key: the order id wherever it can be known, else the Stripe object id."""

from __future__ import annotations

from typing import Any

from services.ingest.routing import related_ids, route, subject


def event(obj: dict[str, Any], event_id: str = "evt_1") -> dict[str, Any]:
    return {"id": event_id, "type": "x.y", "created": 1, "data": {"object": obj}}


def test_the_objects_own_metadata_wins() -> None:
    obj = {"id": "pi_1", "metadata": {"order_id": "ord_1"}}
    chosen = route(event(obj), learned={"pi_1": "ord_other"})
    assert (chosen.key, chosen.order_id, chosen.object_id) == ("ord_1", "ord_1", "pi_1")


def test_an_expanded_payment_intent_carries_the_order() -> None:
    intent = {"id": "pi_1", "metadata": {"order_id": "o"}}
    obj = {"id": "ch_1", "metadata": {}, "payment_intent": intent}
    assert route(event(obj), learned={}).key == "o"


def test_an_expanded_charge_carries_the_order() -> None:
    obj = {"id": "dp_1", "charge": {"id": "ch_1", "metadata": {"order_id": "o"}}}
    assert route(event(obj), learned={}).key == "o"


def test_a_dispute_without_metadata_uses_what_was_learned() -> None:
    # given an earlier event taught that pi_1 belongs to order o
    dispute = {"id": "dp_1", "object": "dispute", "charge": "ch_1", "payment_intent": "pi_1"}
    chosen = route(event(dispute), learned={"pi_1": "o"})
    assert (chosen.key, chosen.order_id) == ("o", "o")


def test_the_objects_own_learned_id_comes_before_its_references() -> None:
    charge = {"id": "ch_1", "payment_intent": "pi_1"}
    assert route(event(charge), learned={"ch_1": "o1", "pi_1": "o2"}).key == "o1"


def test_without_any_order_the_object_id_is_the_key() -> None:
    chosen = route(event({"id": "cus_1", "metadata": {}}), learned={})
    assert (chosen.key, chosen.order_id, chosen.object_id) == ("cus_1", None, "cus_1")


def test_an_object_without_id_falls_back_to_the_event_id() -> None:
    assert route(event({"object": "balance"}, "evt_9"), learned={}).key == "evt_9"


def test_empty_or_non_string_order_ids_are_ignored() -> None:
    assert route(event({"id": "pi_1", "metadata": {"order_id": ""}}), learned={}).key == "pi_1"
    assert route(event({"id": "pi_1", "metadata": {"order_id": 5}}), learned={}).key == "pi_1"


def test_related_ids_list_the_object_then_its_references_once() -> None:
    refund = {
        "id": "re_1",
        "charge": {"id": "ch_1", "payment_intent": "pi_1"},
        "payment_intent": "pi_1",
    }
    assert related_ids(refund) == ("re_1", "pi_1", "ch_1")


def test_only_payment_intents_charges_and_checkout_sessions_are_learned() -> None:
    session = {"id": "cs_1", "payment_intent": "pi_1", "customer": "cus_1"}
    assert subject(event(session)).learnable == ("cs_1", "pi_1")
    assert subject(event({"id": "re_1", "charge": "ch_1"})).learnable == ("ch_1",)
