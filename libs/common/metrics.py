"""Prometheus metrics for the services' aiohttp servers: one registry per app, `/metrics`."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

REGISTRY_KEY: web.AppKey[CollectorRegistry] = web.AppKey("metrics_registry", CollectorRegistry)


def install(app: web.Application, registry: CollectorRegistry) -> None:
    """Serve `registry` at `GET /metrics` in Prometheus' text format."""
    app[REGISTRY_KEY] = registry

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(request.app[REGISTRY_KEY])
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)
