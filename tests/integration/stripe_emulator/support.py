"""Helpers for the emulator's contract tests: the running emulator and a webhook receiver."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import stripe
from aiohttp import web
from stripe._base_address import BaseAddresses

JsonObject = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True)
class Emulator:
    """The emulator under test, reached over HTTP; `/_emulator` calls need no API key."""

    url: str

    def call(self, method: str, path: str, body: JsonObject | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (loopback http only)
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def post(self, path: str, body: JsonObject | None = None) -> Any:
        status, payload = self.call("POST", path, body or {})
        assert status == 200, (status, payload)
        return payload

    def get(self, path: str) -> Any:
        status, payload = self.call("GET", path)
        assert status == 200, (status, payload)
        return payload

    def reset(self) -> None:
        self.post("/_emulator/reset")

    def faults(self, body: JsonObject) -> Any:
        return self.post("/_emulator/faults", body)


@dataclass(frozen=True)
class Received:
    body: bytes
    signature: str | None
    at: float

    def event(self) -> JsonObject:
        parsed: JsonObject = json.loads(self.body)
        return parsed


@dataclass
class WebhookReceiver:
    """An aiohttp webhook receiver on a loopback port, run on its own thread and loop.

    `statuses` are answered first, in order (e.g. `[500, 500]`), then 200.
    """

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ready: threading.Event = field(default_factory=threading.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "webhook receiver did not start"
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/webhook", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/webhook"
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.received.append(
                Received(body, request.headers.get("Stripe-Signature"), time.monotonic())
            )
            status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok" if status < 300 else "failing on purpose")

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def events(self) -> list[JsonObject]:
        return [r.event() for r in self.snapshot()]

    def wait_for(
        self, predicate: Callable[[list[JsonObject]], bool], timeout: float = 10.0
    ) -> list[JsonObject]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if predicate(events):
                return events
            time.sleep(0.02)
        raise AssertionError(f"timed out; received {[e['type'] for e in self.events()]}")


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def types_of(events: list[JsonObject]) -> list[str]:
    return [str(e["type"]) for e in events]


def present(value: T | None) -> T:
    """Narrow an optional SDK field that the emulator must have filled."""
    assert value is not None
    return value


def expanded(value: object, kind: type[T]) -> T:
    """An expandable SDK field that was expanded (`expand=[...]`) into a `kind` object."""
    assert isinstance(value, kind), f"expected an expanded {kind.__name__}, got {value!r}"
    return value


def id_of(value: object) -> str:
    """The id behind an expandable field, expanded or not."""
    if isinstance(value, str):
        return value
    object_id = getattr(value, "id", None)
    assert isinstance(object_id, str), f"no id in {value!r}"
    return object_id


def make_client(
    emulator: Emulator, *, api_key: str = "sk_test_emulator", max_network_retries: int = 0
) -> stripe.StripeClient:
    """How the project's adapters build their client when `STRIPE_API_BASE` is set."""
    addresses: BaseAddresses = {
        "api": emulator.url,
        "connect": emulator.url,
        "files": emulator.url,
    }
    return stripe.StripeClient(
        api_key, base_addresses=addresses, max_network_retries=max_network_retries
    )
