"""The emulator runs once per session as `python -m devtools.stripe_emulator` on a free loopback
port, with webhook timings compressed; every test starts from `POST /_emulator/reset`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from devtools.infra.process import free_port
from tests.integration.stripe_emulator.support import Emulator, WebhookReceiver, make_client
from tests.support import processes

COMPRESSED_TIMINGS = [
    "--retry-base-ms", "40",
    "--retry-max-ms", "300",
    "--max-attempts", "4",
    "--delivery-timeout-ms", "1000",
    "--shuffle-flush-ms", "1000",
    "--payout-paid-after-ms", "150",
]  # fmt: skip


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["devtools.stripe_emulator", "--host", "127.0.0.1", "--port", str(port)]
    running = processes.start(
        "stripe-emulator",
        [*args, *COMPRESSED_TIMINGS],
        env={},
        log_dir=tmp_path_factory.mktemp("stripe-emulator"),
        health_url=f"{url}/_emulator/health",
    )
    try:
        yield Emulator(url)
    finally:
        exit_code = running.stop(timeout=15)
    assert exit_code == 0, (
        f"emulator did not exit cleanly on SIGTERM ({exit_code}); see {running.log}"
    )


@pytest.fixture(autouse=True)
def _fresh_emulator(emulator: Emulator) -> None:
    emulator.reset()


@pytest.fixture
def client(emulator: Emulator) -> stripe.StripeClient:
    return make_client(emulator)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()
