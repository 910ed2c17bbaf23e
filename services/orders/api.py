"""The orders HTTP API: payment creation for the backend, order views for the UI.

Reads come from the read model in PostgreSQL. Payment creation calls Stripe, then hands the
fact (a PaymentIntent or Checkout Session was created) to the worker that owns the order,
so that the order itself is only ever changed by that worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import stripe
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from libs.common import metrics
from libs.common.contracts.orders_commands import Actor
from libs.common.contracts.orders_events import OrderFact
from libs.common.http import ApiError, json_errors
from libs.common.kafka.producer import KafkaProducer
from libs.common.topics import TopicNames
from services.orders import attempts, command_log, views
from services.orders.adapters import postgres
from services.orders.adapters.stripe_gateway import PaymentsGateway, StripeDict
from services.orders.customers import ensure_customer
from services.orders.domain import aggregate
from services.orders.domain.state import Order
from services.orders.fees import FeePolicy
from services.orders.handlers import send_to_inbox
from services.orders.requests import (
    BODY,
    CheckoutSessionRequest,
    Claims,
    PaymentIntentRequest,
    idempotent,
)

Next = Callable[[web.Request], Awaitable[web.StreamResponse]]
Create = Callable[[Order, str, int], Awaitable[StripeDict]]

DEPS: web.AppKey[Deps] = web.AppKey("deps")
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)


class Deps:
    def __init__(
        self,
        pool: asyncpg.Pool,
        gateway: PaymentsGateway,
        producer: KafkaProducer,
        names: TopicNames,
        policy: FeePolicy,
        public_url: str,
        idempotency_takeover_s: float = 60.0,
    ) -> None:
        self.pool, self.gateway, self.producer = pool, gateway, producer
        self.names, self.policy, self.public_url = names, policy, public_url
        self.idempotency_takeover_s = idempotency_takeover_s
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "orders_api_requests", "API requests by route and status", ["route", "status"],
            registry=self.registry,
        )  # fmt: skip


def stripe_error(exc: Exception) -> ApiError | None:
    """Stripe's refusals as answers the client can act on."""
    if isinstance(exc, stripe.CardError):
        return ApiError(402, exc.code or "card_error", exc.user_message or str(exc))
    if isinstance(exc, stripe.InvalidRequestError):
        return ApiError(400, exc.code or "stripe_invalid_request", str(exc.user_message))
    if isinstance(exc, stripe.StripeError):
        return ApiError(502, "stripe_unavailable", exc.user_message or "Stripe failed")
    return None


errors = json_errors(stripe_error)


async def _order(deps: Deps, order_id: str) -> Order:
    facts = await postgres.load_facts(deps.pool, order_id)
    if not facts:
        raise ApiError(404, "order_not_found", f"no order {order_id}")
    return aggregate.from_facts_json(facts)


def _payable(order: Order) -> None:
    if order.status != "created":
        raise ApiError(409, "order_not_payable", f"order is {order.status}, not awaiting payment")
    held = order.payment.payment_intent_id
    if order.payment.status in ("captured", "authorized") and held:
        raise attempts.PaymentInProgress(held, order.payment.status)


def _actor(request: web.Request) -> Actor:
    return Actor(kind="api", id=request.headers.get("X-Actor-Id") or None)


def _request_id(request: web.Request) -> str:
    return request.get(REQUEST_ID) or str(uuid.uuid4())


async def _start_attempt(
    request: web.Request, kind: attempts.Kind, create: Create
) -> tuple[StripeDict, int]:
    """One live payment per order (see `attempts`): the open attempt of this kind again
    (200), or a new one (201) once every other open attempt is canceled at Stripe."""
    deps = request.app[DEPS]
    order = await _order(deps, request.match_info["order_id"])
    try:
        _payable(order)
        # The buyer's Customer (not a payment) first: the lock's connection stays the only one.
        customer = await ensure_customer(deps.pool, deps.gateway, order.buyer)
        async with attempts.exclusive(deps.pool, order.order_id) as conn:
            known = await attempts.of_order(conn, deps.gateway, order)
            kept = await attempts.make_room(deps.gateway, order.order_id, known, kind)
            obj = kept.obj if kept else await create(order, customer, attempts.next_number(known))
            if str(obj["id"]) not in attempts.recorded_ids(order):
                await attempts.remember(conn, str(obj["id"]), order.order_id)
                fact = _fact(request, order, obj, kind)
                await send_to_inbox(deps.producer, deps.names, fact, order.order_id)
    except attempts.PaymentInProgress as exc:
        details: dict[str, object] = {"attempt_id": exc.attempt_id}
        raise ApiError(409, "payment_in_progress", str(exc), details) from exc
    return obj, 200 if kept else 201


def _fact(request: web.Request, order: Order, obj: StripeDict, kind: attempts.Kind) -> OrderFact:
    """What tells the order's worker about the new (or found, unrecorded) attempt."""
    cause, actor = _request_id(request), _actor(request)
    if kind == "payment_intent":
        return aggregate.payment_intent_created(order, obj, cause, actor)
    return aggregate.checkout_session_created(order, obj, cause, actor)


async def create_payment_intent(request: web.Request) -> web.Response:
    gateway = request.app[DEPS].gateway
    intent, status = await _start_attempt(request, "payment_intent", gateway.create_payment_intent)
    body = {
        "id": intent["id"],
        "client_secret": intent.get("client_secret"),
        "status": intent.get("status"),
        "amount": intent["amount"],
        "currency": intent["currency"],
        "customer": intent.get("customer"),
        "next_action": intent.get("next_action"),
    }
    return web.json_response(body, status=status)


async def create_checkout_session(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    options = request[BODY]
    assert isinstance(options, CheckoutSessionRequest)
    base = f"{deps.public_url}/orders/{request.match_info['order_id']}"
    urls = (
        str(options.success_url or f"{base}?checkout=success"),
        str(options.cancel_url or f"{base}?checkout=canceled"),
    )

    async def create(order: Order, customer: str, attempt: int) -> StripeDict:
        return await deps.gateway.create_checkout_session(order, customer, urls, attempt)

    session, status = await _start_attempt(request, "checkout_session", create)
    body = {
        "id": session["id"],
        "url": session.get("url"),
        "amount_total": session.get("amount_total"),
        "currency": session.get("currency"),
    }
    return web.json_response(body, status=status)


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
    request[REQUEST_ID] = request.headers.get("X-Request-Id") or f"req_{uuid.uuid4().hex}"
    response = await handler(request)
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    request.app[DEPS].requests.labels(name, str(response.status)).inc()
    return response


def _claims(request: web.Request) -> Claims:
    deps = request.app[DEPS]
    return Claims(deps.pool, deps.idempotency_takeover_s, errors)


async def get_command(request: web.Request) -> web.Response:
    """What became of a command: applied (and its facts) or rejected (and why)."""
    command_id = request.match_info["command_id"]
    found = await command_log.outcome(request.app[DEPS].pool, command_id)
    if found is None:
        raise ApiError(
            404,
            "command_unknown",
            f"no command {command_id} has reached the orders worker (yet)",
            details={"status": "unknown"},
        )
    return web.json_response(found)


def create_app(deps: Deps) -> web.Application:
    app = web.Application(middlewares=[request_ids, errors])
    app[DEPS] = deps
    post_pi = idempotent("payment-intent", PaymentIntentRequest, create_payment_intent, _claims)
    post_cs = idempotent(
        "checkout-session", CheckoutSessionRequest, create_checkout_session, _claims
    )
    app.router.add_post("/orders/{order_id}/payment-intent", post_pi)
    app.router.add_post("/orders/{order_id}/checkout-session", post_cs)
    app.router.add_get("/orders/{order_id}", get_order)
    app.router.add_get("/orders/{order_id}/timeline", get_timeline)
    app.router.add_get("/orders/{order_id}/fees", get_fees)
    app.router.add_get("/commands/{command_id}", get_command)
    app.router.add_get("/healthz", healthz)
    metrics.install(app, deps.registry)
    return app
