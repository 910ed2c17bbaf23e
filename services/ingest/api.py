"""HTTP entry points: Stripe's two webhook endpoints, health, readiness and metrics.

A webhook handler reads the raw body (bounded), checks the signature on it before anything
else, decodes the event and hands it to the publisher. Every refusal is a status and a JSON
reason `{"error": {"code", "message"}}` (`libs.common.http`, which also shapes aiohttp's own
404/405 and unexpected failures), and nothing is published for it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from libs.common import metrics as common_metrics
from libs.common.http import ApiError as Rejection
from libs.common.http import error_response, json_errors
from services.ingest.metrics import IngestMetrics
from services.ingest.publisher import Outcome, PublishFailed, Source, Unavailable
from services.ingest.runtime import IngestRuntime
from services.ingest.settings import IngestSettings
from services.ingest.signature import SignatureError, verify

RUNTIME: web.AppKey[IngestRuntime] = web.AppKey("ingest_runtime", IngestRuntime)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _too_large(limit: int) -> Rejection:
    return Rejection(413, "body_too_large", f"the body is larger than {limit} bytes")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes `limit` (declared or streamed)."""
    length = request.content_length
    if length is not None:
        if length > limit:
            raise _too_large(limit)
        # The HTTP parser ends the body at its declared length: one read, nothing to count.
        return await request.content.readexactly(length)
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(65536):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_event(body: bytes) -> dict[str, Any]:
    """The body as a Stripe event: a JSON object with an id, a type, a time and an object.
    Only UTF-8 JSON is accepted, so that the body can travel on as the event verbatim."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Rejection(400, "invalid_json", f"the body is not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise Rejection(400, "not_an_event", "the body is not a JSON object")
    problems = []
    if not (isinstance(event.get("id"), str) and event["id"].startswith("evt_")):
        problems.append("`id` must be an evt_ id")
    if not (isinstance(event.get("type"), str) and event["type"]):
        problems.append("`type` must be a string")
    if not isinstance(event.get("created"), int) or isinstance(event.get("created"), bool):
        problems.append("`created` must be an integer")
    data = event.get("data")
    if not (isinstance(data, dict) and isinstance(data.get("object"), dict)):
        problems.append("`data.object` must be an object")
    if problems:
        raise Rejection(400, "not_an_event", "not a Stripe event: " + "; ".join(problems))
    return event


_ACCEPTED = {
    outcome: orjson.dumps({"received": True, "duplicate": outcome is Outcome.DUPLICATE})
    for outcome in Outcome
}


def webhook_handler(source: Source) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        runtime = request.app[RUNTIME]
        settings, metrics = runtime.settings, runtime.metrics
        metrics.received[source].inc()
        try:
            body = await read_body(request, settings.webhook_max_body_bytes)
            verify(
                body,
                request.headers.get("Stripe-Signature"),
                runtime.secrets[source],
                tolerance_s=settings.webhook_tolerance_s,
                now=time.time(),
            )
            metrics.verified[source].inc()
            outcome = await runtime.publisher.publish(parse_event(body), source, raw=body)
        except SignatureError as exc:
            metrics.rejected.labels(source, exc.reason).inc()
            return error_response(400, exc.reason, exc.message)
        except Rejection as exc:
            metrics.rejected.labels(source, exc.code).inc()
            return error_response(exc.status, exc.code, exc.message)
        except Unavailable as exc:
            metrics.rejected.labels(source, exc.code).inc()
            return error_response(503, exc.code, str(exc))
        except PublishFailed as exc:
            metrics.rejected.labels(source, "internal_error").inc()
            return error_response(500, "internal_error", str(exc))
        return web.Response(body=_ACCEPTED[outcome], content_type="application/json")

    return handle


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks = await request.app[RUNTIME].readiness()
    status = 200 if all(checks.values()) else 503
    return web.json_response({"ready": status == 200, "checks": checks}, status=status)


def build_app(settings: IngestSettings, *, backfill: bool | None = None) -> web.Application:
    """The ingest app; its resources (pool, producer, secrets, backfill timer) live from
    start-up to clean-up. `backfill=False` turns the automatic backfill off (tests, bench)."""
    app = web.Application(
        client_max_size=settings.webhook_max_body_bytes + 1, middlewares=[json_errors()]
    )
    metrics = IngestMetrics()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        runtime = await IngestRuntime.start(settings, metrics, auto_backfill=backfill)
        app[RUNTIME] = runtime
        yield
        await runtime.stop()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/webhooks/stripe", webhook_handler("platform"))
    app.router.add_post("/webhooks/stripe/connect", webhook_handler("connect"))
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    common_metrics.install(app, metrics.registry)
    return app
