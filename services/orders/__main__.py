"""`python -m services.orders worker | api`: the Faust worker, or the HTTP API."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from aiohttp import web

from libs.common import logging as json_logging
from libs.common.kafka.admin import Durability, ensure_topics
from libs.common.kafka.producer import KafkaProducer
from libs.common.stripe_client import make_client
from libs.common.topics import ORDERS_COMMANDS, TopicNames
from services.orders import api
from services.orders.adapters import postgres
from services.orders.adapters.stripe_gateway import StripeGateway
from services.orders.fees import FeePolicy
from services.orders.settings import OrdersSettings


def fee_policy(settings: OrdersSettings) -> FeePolicy:
    if not settings.orders_fee_policy:
        return FeePolicy()
    return FeePolicy.model_validate_json(settings.orders_fee_policy)


def run_worker(settings: OrdersSettings) -> int:
    import faust

    from services.orders.agents import app_id, build_app

    # Our registry's partition counts, retention and durability must win over whatever Faust
    # would declare: its table's changelog is created here too, compacted.
    names = TopicNames(settings.topic_prefix)
    changelog = names.table(app_id(settings), "orders", ORDERS_COMMANDS.partitions)
    durability = ensure_topics(
        settings.kafka_bootstrap_servers,
        [*names.all_names(), changelog],
        durability=Durability.of(settings),
    )
    app = build_app(settings, durability)
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    worker.execute_from_commandline()
    return 0


async def serve_api(settings: OrdersSettings) -> None:
    names = TopicNames(settings.topic_prefix)
    ensure_topics(
        settings.kafka_bootstrap_servers, names.all_names(), durability=Durability.of(settings)
    )
    pool = await postgres.connect(settings.database_url.get_secret_value())
    producer = KafkaProducer(settings.kafka_bootstrap_servers, client_id="orders-api")
    gateway = StripeGateway(
        make_client(settings, asynchronous=True, timeout_s=settings.orders_stripe_timeout_s)
    )
    deps = api.Deps(
        pool, gateway, producer, names, fee_policy(settings), settings.orders_public_url,
        idempotency_takeover_s=settings.orders_idempotency_takeover_s,
    )  # fmt: skip
    runner = web.AppRunner(api.create_app(deps), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.orders_host, settings.orders_port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        producer.close()
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="payments orders")
    parser.add_argument("role", choices=["worker", "api"])
    args = parser.parse_args(argv)
    settings = OrdersSettings()
    json_logging.configure(f"orders-{args.role}", settings.log_level, settings.log_format)
    if args.role == "worker":
        return run_worker(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_api(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
