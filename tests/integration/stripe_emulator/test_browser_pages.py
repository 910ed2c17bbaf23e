"""The hosted pages behind `next_action`, Checkout `url` and account link `url` work by hand."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import stripe

from tests.integration.stripe_emulator.support import Emulator, present


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _submit(url: str, choice: str) -> tuple[int, str]:
    """Press a button on an emulator page; returns the status and any redirect target."""
    opener = urllib.request.build_opener(_NoRedirect)
    data = urllib.parse.urlencode({"choice": choice}).encode()
    try:
        with opener.open(url, data=data, timeout=5) as response:
            return response.status, ""
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location", "")


def _show(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
        return str(response.read().decode())


def test_three_d_secure_page(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        {
            "amount": 1000,
            "currency": "usd",
            "payment_method": "pm_card_threeDSecure2Required",
            "confirm": True,
            "return_url": "http://127.0.0.1:1/back",
        }
    )
    url = present(present(intent.next_action).redirect_to_url).url
    assert url is not None
    assert "3D Secure" in _show(url)
    status, location = _submit(url, "succeed")
    assert status == 302
    assert location.startswith("http://127.0.0.1:1/back?")
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


def test_checkout_page_and_onboarding_page(client: stripe.StripeClient, emulator: Emulator) -> None:
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 900,
                        "product_data": {"name": "Tea"},
                    }
                }
            ],
            "success_url": "http://127.0.0.1:1/ok?s={CHECKOUT_SESSION_ID}",
        }
    )
    status, location = _submit(present(session.url), "pay")
    assert (status, location) == (
        302,
        f"http://127.0.0.1:1/ok?s={session.id}&id={session.id}&result=pay",
    )
    assert client.v1.checkout.sessions.retrieve(session.id).status == "complete"
    account = client.v1.accounts.create({"type": "express"})
    link = client.v1.account_links.create(
        {
            "account": account.id,
            "return_url": "http://127.0.0.1:1/done",
            "type": "account_onboarding",
        }
    )
    status, location = _submit(link.url, "complete")
    assert status == 302 and location.startswith("http://127.0.0.1:1/done")
    assert client.v1.accounts.retrieve(account.id).charges_enabled is True
