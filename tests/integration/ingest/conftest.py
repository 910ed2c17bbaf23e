"""Ingest against real things: the Stripe emulator as a process on a free port (one per
module, reset per test), the session's broker and PostgreSQL, and the ingest app in-process on
a free port, registered with the emulator exactly as `make up` does it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from devtools.infra.process import free_port
from libs.common.settings import EMULATOR_SECRET_KEY
from libs.common.topics import STRIPE_EVENTS, TopicNames
from services.ingest.api import RUNTIME, build_app
from services.ingest.runtime import IngestRuntime
from services.ingest.settings import IngestSettings
from services.ingest.signature import expected_signature
from tests.support import processes
from tests.support.backends import Infra
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration


class Emulator:
    """The emulator's test routes, over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.url + path, json=body) as resp,
        ):
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def faults(self, **webhooks: Any) -> None:
        await self.call("POST", "/_emulator/faults", {"webhooks": webhooks, "seed": 7})

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until no delivery is pending (succeeded or given up)."""
        deadline = time.monotonic() + timeout
        while (await self.call("GET", "/_emulator/state"))["pending_deliveries"]:
            assert time.monotonic() < deadline, "webhook deliveries still pending"
            await asyncio.sleep(0.1)

    async def event(self, event_id: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {EMULATOR_SECRET_KEY}"}
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/v1/events/{event_id}", headers=headers) as resp,
        ):
            return dict(await resp.json())


@pytest.fixture(scope="module")
def emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["devtools.stripe_emulator", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--retry-base-ms", "100", "--retry-max-ms", "500", "--max-attempts", "60"]
    args += ["--shuffle-flush-ms", "100", "--log-level", "WARNING"]
    with processes.started(
        "stripe-emulator",
        args,
        env={},
        log_dir=tmp_path_factory.mktemp("emulator"),
        health_url=f"{url}/_emulator/health",
    ):
        yield url


@pytest.fixture
async def emulator(emulator_process: str) -> Emulator:
    found = Emulator(emulator_process)
    await found.call("POST", "/_emulator/reset")
    return found


class IngestServer:
    """The ingest app on a loopback port; `restart` keeps settings (and so the database)."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.ingest_port}"
        self._runner: web.AppRunner | None = None
        self._app: web.Application | None = None

    async def start(self) -> None:
        self._app = build_app(self.settings)
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.settings.ingest_port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def runtime(self) -> IngestRuntime:
        assert self._app is not None
        return self._app[RUNTIME]

    def signed(self, body: bytes, *, secret: str | None = None, t: int | None = None) -> str:
        secret = secret or self.runtime.secrets["platform"][0]
        stamp = int(time.time()) if t is None else t
        return f"t={stamp},v1={expected_signature(secret, stamp, body)}"

    async def post(
        self, body: bytes, signature: str | None, path: str = "/webhooks/stripe"
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.url + path, data=body, headers=headers) as resp,
        ):
            return resp.status, await resp.json()


def ingest_settings(
    infra: Infra, emulator: Emulator, topics: TopicNames, **overrides: Any
) -> IngestSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": infra.kafka_bootstrap,
        "database_url": infra.database_url,
        "stripe_api_base": emulator.url,
        "stripe_secret_key": EMULATOR_SECRET_KEY,
        "stripe_webhook_secret": "",
        "stripe_connect_webhook_secret": "",
        "topic_prefix": topics.prefix,
        "ingest_port": free_port(),
        "publish_timeout_s": 2.0,
        "backfill_on_start": False,
        "backfill_interval_s": 0,
    }
    values.update(overrides)
    return IngestSettings(**values)


@pytest.fixture
async def ingest(
    infra: Infra, emulator: Emulator, topics: TopicNames
) -> AsyncIterator[IngestServer]:
    server = IngestServer(ingest_settings(infra, emulator, topics))
    await server.start()
    yield server
    await server.stop()


async def published_ids(
    bootstrap: str, topics: TopicNames, expected: int, settle: float = 1.0
) -> list[str]:
    """Event ids on `stripe.events`, in topic order per partition (duplicates kept)."""
    records = await read_topic(
        bootstrap, topics.name(STRIPE_EVENTS), expected=expected, timeout=20, settle=settle
    )
    return [json.loads(r.value())["payload"]["event_id"] for r in records]
