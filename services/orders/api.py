"""The orders HTTP API: payment creation for the backend, order views for the UI.

Reads come from the read model in PostgreSQL. Payment creation calls Stripe, then hands the
fact (a PaymentIntent or Checkout Session was created) to the worker that owns the order,
so that the order itself is only ever changed by that worker.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import stripe
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from libs.common import metrics
from libs.common.contracts.orders_commands import Actor
from libs.common.contracts.orders_events import OrderFact
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import TopicNames
from services.orders import views
from services.orders.adapters import postgres
from services.orders.adapters.stripe_gateway import PaymentsGateway
from services.orders.customers import ensure_customer
from services.orders.domain import aggregate
from services.orders.domain.state import Order
from services.orders.fees import FeePolicy
from services.orders.handlers import send_to_inbox

Handler = Callable[[web.Request], Awaitable[web.Response]]
Next = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEPS: web.AppKey[Deps] = web.AppKey("deps")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


class Deps:
    def __init__(
        self,
        pool: asyncpg.Pool,
        gateway: PaymentsGateway,
        producer: KafkaProducer,
        names: TopicNames,
        policy: FeePolicy,
        public_url: str,
    ) -> None:
        self.pool, self.gateway, self.producer = pool, gateway, producer
        self.names, self.policy, self.public_url = names, policy, public_url
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "orders_api_requests", "API requests by route and status", ["route", "status"],
            registry=self.registry,
        )  # fmt: skip


@web.middleware
async def errors(request: web.Request, handler: Next) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except stripe.CardError as exc:
        return error_response(402, exc.code or "card_error", exc.user_message or str(exc))
    except stripe.InvalidRequestError as exc:
        return error_response(400, exc.code or "stripe_invalid_request", str(exc.user_message))
    except stripe.StripeError as exc:
        return error_response(502, "stripe_unavailable", exc.user_message or "Stripe failed")


async def _order(deps: Deps, order_id: str) -> Order:
    facts = await postgres.load_facts(deps.pool, order_id)
    if not facts:
        raise ApiError(404, "order_not_found", f"no order {order_id}")
    return aggregate.from_facts_json(facts)


def idempotent(scope: str, handler: Handler) -> Handler:
    """Same key and body: the first answer again. Same key, other body: 409. No key: 400."""

    async def wrapped(request: web.Request) -> web.Response:
        deps = request.app[DEPS]
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 255:
            raise ApiError(400, "idempotency_key_required", "send an Idempotency-Key header")
        body = await request.read()
        fingerprint = hashlib.sha256(
            request.method.encode() + b" " + request.path.encode() + b"\n" + body
        ).hexdigest()
        try:
            replay = await postgres.claim_key(deps.pool, scope, key, fingerprint)
        except postgres.IdempotencyConflict as exc:
            raise ApiError(409, "idempotency_conflict", str(exc)) from exc
        if replay is not None:
            return web.json_response(
                replay.body, status=replay.status_code, headers={"Idempotent-Replayed": "true"}
            )
        try:
            response = await errors(request, handler)
        except BaseException:
            await postgres.release_key(deps.pool, scope, key)
            raise
        assert isinstance(response, web.Response)
        if response.status >= 500:
            await postgres.release_key(deps.pool, scope, key)
        else:
            await postgres.complete_key(
                deps.pool, scope, key, response.status, json.loads(response.text or "null")
            )
        return response

    return wrapped


def _payable(order: Order) -> None:
    if order.status != "created" or order.payment.status in ("captured", "authorized"):
        raise ApiError(409, "order_not_payable", f"order is {order.status}, not awaiting payment")


def _actor(request: web.Request) -> Actor:
    return Actor(kind="api", id=request.headers.get("X-Actor-Id") or None)


async def _checkout_start(request: web.Request) -> tuple[Deps, Order, str]:
    """What both payment paths begin with: an order awaiting payment, and its buyer's
    Stripe Customer (created on the first checkout, reused after)."""
    deps = request.app[DEPS]
    order = await _order(deps, request.match_info["order_id"])
    _payable(order)
    customer = await ensure_customer(deps.pool, deps.gateway, order.buyer)
    return deps, order, customer


async def _record(deps: Deps, order: Order, stripe_id: str, fact: OrderFact) -> None:
    """Map the new Stripe object to the order, and tell the order's worker about it."""
    await postgres.remember_objects(deps.pool, [(stripe_id, order.order_id)])
    await send_to_inbox(deps.producer, deps.names, fact, order.order_id)


def _request_id(request: web.Request) -> str:
    return str(request.get("request_id") or uuid.uuid4())


async def create_payment_intent(request: web.Request) -> web.Response:
    deps, order, customer = await _checkout_start(request)
    intent = await deps.gateway.create_payment_intent(order, customer)
    fact = aggregate.payment_intent_created(order, intent, _request_id(request), _actor(request))
    await _record(deps, order, str(intent["id"]), fact)
    body = {
        "id": intent["id"],
        "client_secret": intent.get("client_secret"),
        "status": intent.get("status"),
        "amount": intent["amount"],
        "currency": intent["currency"],
        "customer": customer,
        "next_action": intent.get("next_action"),
    }
    return web.json_response(body, status=201)


async def create_checkout_session(request: web.Request) -> web.Response:
    deps, order, customer = await _checkout_start(request)
    base = f"{deps.public_url}/orders/{order.order_id}"
    session = await deps.gateway.create_checkout_session(
        order, customer, f"{base}?checkout=success", f"{base}?checkout=canceled"
    )
    fact = aggregate.checkout_session_created(order, session, _request_id(request), _actor(request))
    await _record(deps, order, str(session["id"]), fact)
    body = {
        "id": session["id"],
        "url": session.get("url"),
        "amount_total": session.get("amount_total"),
        "currency": session.get("currency"),
    }
    return web.json_response(body, status=201)


async def get_order(request: web.Request) -> web.Response:
    order_id = request.match_info["order_id"]
    body = await postgres.load_body(request.app[DEPS].pool, order_id)
    if body is None:
        raise ApiError(404, "order_not_found", f"no order {order_id}")
    return web.Response(text=body, content_type="application/json")


async def get_timeline(request: web.Request) -> web.Response:
    order_id = request.match_info["order_id"]
    order = await _order(request.app[DEPS], order_id)
    return web.json_response({"order_id": order_id, "timeline": views.timeline_body(order)})


async def get_fees(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    order = await _order(deps, request.match_info["order_id"])
    return web.json_response(views.fees_body(order, deps.policy))


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@web.middleware
async def request_ids(request: web.Request, handler: Next) -> web.StreamResponse:
    request["request_id"] = request.headers.get("X-Request-Id") or f"req_{uuid.uuid4().hex}"
    response = await handler(request)
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    request.app[DEPS].requests.labels(name, str(response.status)).inc()
    return response


def create_app(deps: Deps) -> web.Application:
    app = web.Application(middlewares=[request_ids, errors])
    app[DEPS] = deps
    post_pi = idempotent("payment-intent", create_payment_intent)
    post_cs = idempotent("checkout-session", create_checkout_session)
    app.router.add_post("/orders/{order_id}/payment-intent", post_pi)
    app.router.add_post("/orders/{order_id}/checkout-session", post_cs)
    app.router.add_get("/orders/{order_id}", get_order)
    app.router.add_get("/orders/{order_id}/timeline", get_timeline)
    app.router.add_get("/orders/{order_id}/fees", get_fees)
    app.router.add_get("/healthz", healthz)
    metrics.install(app, deps.registry)
    return app
