"""Where the settings send the Stripe SDK."""

from __future__ import annotations

import pytest

from libs.common.settings import CommonSettings


def test_the_emulator_address_follows_its_port(monkeypatch: pytest.MonkeyPatch) -> None:
    # given a second stack whose emulator listens on another port, and no STRIPE_API_BASE
    monkeypatch.delenv("STRIPE_API_BASE", raising=False)
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.setenv("STRIPE_EMULATOR_PORT", "23456")
    # then its services talk to that emulator, not to the default port's
    assert CommonSettings().stripe_base_url() == "http://127.0.0.1:23456"


def test_an_explicit_base_and_a_real_key_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_EMULATOR_PORT", "23456")
    monkeypatch.setenv("STRIPE_API_BASE", "http://stripe.internal:8080/")
    assert CommonSettings().stripe_base_url() == "http://stripe.internal:8080"
    monkeypatch.delenv("STRIPE_API_BASE")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_x")
    assert CommonSettings().stripe_base_url() is None
