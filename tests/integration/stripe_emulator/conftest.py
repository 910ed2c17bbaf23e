"""The emulator runs once per session as `python -m devtools.stripe_emulator` on a free loopback
port, with webhook timings compressed; every test starts from `POST /_emulator/reset`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from tests.integration.stripe_emulator.support import Emulator, WebhookReceiver, make_client

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPRESSED_TIMINGS = [
    "--retry-base-ms", "40",
    "--retry-max-ms", "300",
    "--max-attempts", "4",
    "--delivery-timeout-ms", "1000",
    "--shuffle-flush-ms", "1000",
    "--payout-paid-after-ms", "150",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_emulator/health", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("emulator did not become healthy")


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("stripe-emulator") / "emulator.log"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "devtools.stripe_emulator", "--host", "127.0.0.1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port), *COMPRESSED_TIMINGS],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=log,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, process)
            yield Emulator(url)
        finally:
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(timeout=15)
    assert exit_code == 0, f"emulator did not exit cleanly on SIGTERM ({exit_code}); see {log_path}"


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
