"""Contract: auth, Stripe-shaped errors, customers, pagination, idempotency, Stripe-Account."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
import stripe
from stripe.params import CustomerCreateParams, PaymentIntentCreateParams

from tests.integration.stripe_emulator.support import Emulator, make_client, present


def _raw(
    emulator: Emulator, path: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(emulator.url + path, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_health_and_state(emulator: Emulator) -> None:
    assert emulator.get("/_emulator/health") == {"status": "ok"}
    state = emulator.get("/_emulator/state")
    assert state["objects"] == {}
    assert state["pending_deliveries"] == 0


def test_missing_api_key_is_stripes_401(emulator: Emulator) -> None:
    status, _, body = _raw(emulator, "/v1/balance", {})
    assert status == 401
    assert b"You did not provide an API key" in body


def test_live_key_is_rejected_by_the_sdk(emulator: Emulator) -> None:
    with pytest.raises(stripe.AuthenticationError):
        make_client(emulator, api_key="sk_live_nope").v1.balance.retrieve()


def test_stripe_version_is_echoed_and_request_id_set(emulator: Emulator) -> None:
    headers = {"Authorization": "Bearer sk_test_x", "Stripe-Version": "2020-08-27"}
    status, response_headers, _ = _raw(emulator, "/v1/balance", headers)
    assert status == 200
    assert response_headers["Stripe-Version"] == "2020-08-27"
    assert response_headers["Request-Id"].startswith("req_")


def test_unknown_route_is_a_stripe_404(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.raw_request("get", "/v1/no_such_things")
    assert caught.value.http_status == 404
    assert "Unrecognized request URL" in str(caught.value.user_message)


def test_balance_starts_empty(client: stripe.StripeClient) -> None:
    balance = client.v1.balance.retrieve()
    assert balance.available[0].amount == 0
    assert balance.available[0].currency == "usd"


def test_customer_create_retrieve_update(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(
        {"email": "ann@example.com", "name": "Ann", "metadata": {"user_id": "u1"}}
    )
    assert customer.id.startswith("cus_")
    fetched = client.v1.customers.retrieve(customer.id)
    assert (fetched.email, present(fetched.metadata)["user_id"]) == ("ann@example.com", "u1")
    updated = client.v1.customers.update(
        customer.id, {"name": "Ann B", "metadata": {"user_id": ""}}
    )
    assert updated.name == "Ann B"
    assert "user_id" not in present(updated.metadata)
    events = client.v1.events.list({"type": "customer.*"}).data
    assert [e.type for e in events] == ["customer.updated", "customer.created"]
    assert present(events[0].data.previous_attributes)["name"] == "Ann"


def test_missing_customer_is_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.customers.retrieve("cus_missing")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"
    assert caught.value.param == "id"


def test_customers_by_email_and_search(client: stripe.StripeClient) -> None:
    client.v1.customers.create({"email": "a@example.com", "metadata": {"shop": "s1"}})
    client.v1.customers.create({"email": "b@example.com", "metadata": {"shop": "s2"}})
    listed = client.v1.customers.list({"email": "b@example.com"})
    assert [c.email for c in listed.data] == ["b@example.com"]
    found = client.v1.customers.search({"query": "metadata['shop']:'s1'"})
    assert [c.email for c in found.data] == ["a@example.com"]
    both = client.v1.customers.search({"query": "email:'a@example.com' OR email:'b@example.com'"})
    assert len(both.data) == 2


def test_pagination(client: stripe.StripeClient) -> None:
    created = [client.v1.customers.create({"name": f"c{i}"}).id for i in range(25)]
    newest_first = list(reversed(created))
    page = client.v1.customers.list({"limit": 10})
    assert page.has_more is True
    assert [c.id for c in page.data] == newest_first[:10]
    second = client.v1.customers.list({"limit": 10, "starting_after": page.data[-1].id})
    assert [c.id for c in second.data] == newest_first[10:20]
    before = client.v1.customers.list({"limit": 5, "ending_before": second.data[0].id})
    assert [c.id for c in before.data] == newest_first[5:10]
    assert [c.id for c in page.auto_paging_iter()] == newest_first
    last = client.v1.customers.list({"limit": 10, "starting_after": newest_first[19]})
    assert last.has_more is False
    assert len(last.data) == 5


def test_idempotent_replay_returns_the_first_response(client: stripe.StripeClient) -> None:
    params: CustomerCreateParams = {"email": "idem@example.com"}
    first = client.v1.customers.create(params, {"idempotency_key": "key-1"})
    again = client.v1.customers.create(params, {"idempotency_key": "key-1"})
    assert again.id == first.id
    assert present(again.last_response).headers["Idempotent-Replayed"] == "true"
    assert len(client.v1.customers.list().data) == 1


def test_idempotency_key_with_other_params_is_an_error(client: stripe.StripeClient) -> None:
    client.v1.customers.create({"email": "one@example.com"}, {"idempotency_key": "key-2"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.customers.create({"email": "two@example.com"}, {"idempotency_key": "key-2"})
    assert caught.value.http_status == 400
    assert "key-2" in str(caught.value.user_message)


def test_idempotent_replay_of_an_error(client: stripe.StripeClient) -> None:
    params: PaymentIntentCreateParams = {
        "amount": 1000,
        "currency": "usd",
        "payment_method": "pm_card_chargeDeclined",
        "confirm": True,
    }
    with pytest.raises(stripe.CardError) as first:
        client.v1.payment_intents.create(params, {"idempotency_key": "key-3"})
    with pytest.raises(stripe.CardError) as second:
        client.v1.payment_intents.create(params, {"idempotency_key": "key-3"})
    assert first.value.json_body == second.value.json_body
    assert len(client.v1.payment_intents.list().data) == 1


def test_stripe_account_must_exist(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.PermissionError) as caught:
        client.v1.customers.list(options={"stripe_account": "acct_doesnotexist"})
    assert caught.value.http_status == 403
    body = caught.value.json_body
    assert isinstance(body, dict)
    assert body["error"]["code"] == "account_invalid"


def test_objects_are_scoped_to_their_account(
    client: stripe.StripeClient, emulator: Emulator
) -> None:
    account = client.v1.accounts.create({"type": "express", "country": "US"})
    mine = client.v1.customers.create({"email": "c@x.com"}, {"stripe_account": account.id})
    assert client.v1.customers.list().data == []
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(mine.id)
    scoped = client.v1.customers.retrieve(mine.id, options={"stripe_account": account.id})
    assert scoped.email == "c@x.com"
    connect_events = client.v1.events.list(options={"stripe_account": account.id}).data
    assert [(e.type, e.account) for e in connect_events] == [("customer.created", account.id)]


def test_reset_clears_everything(client: stripe.StripeClient, emulator: Emulator) -> None:
    client.v1.customers.create({"email": "gone@example.com"})
    assert emulator.get("/_emulator/state")["objects"]["customer"] == 1
    emulator.reset()
    assert client.v1.customers.list().data == []
    assert emulator.get("/_emulator/state")["objects"] == {}


def test_a_refused_request_does_not_use_up_its_key(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.create(
            {"amount": 1, "currency": "usd"}, {"idempotency_key": "key-4"}
        )
    fixed = client.v1.payment_intents.create(
        {"amount": 1000, "currency": "usd"}, {"idempotency_key": "key-4"}
    )
    assert fixed.amount == 1000
