"""`python -m devtools.stripe_emulator --host 127.0.0.1 --port 12111` (foreground)."""

from __future__ import annotations

import argparse
import logging
import sys

from aiohttp import web

from devtools.stripe_emulator.app import create_app
from devtools.stripe_emulator.config import EmulatorConfig

_DEFAULTS = EmulatorConfig()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.stripe_emulator",
        description="A stateful Stripe API emulator with signed webhook delivery.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--retry-base-ms", type=int, default=_DEFAULTS.retry_base_ms,
                        help="first webhook retry delay; doubles each attempt")  # fmt: skip
    parser.add_argument("--retry-max-ms", type=int, default=_DEFAULTS.retry_max_ms)
    parser.add_argument("--max-attempts", type=int, default=_DEFAULTS.max_attempts,
                        help="webhook delivery attempts per event and endpoint")  # fmt: skip
    parser.add_argument("--delivery-timeout-ms", type=int, default=_DEFAULTS.delivery_timeout_ms)
    parser.add_argument("--shuffle-flush-ms", type=int, default=_DEFAULTS.shuffle_flush_ms)
    parser.add_argument("--payout-paid-after-ms", type=int, default=_DEFAULTS.payout_paid_after_ms)
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        retry_base_ms=args.retry_base_ms,
        retry_max_ms=args.retry_max_ms,
        max_attempts=args.max_attempts,
        delivery_timeout_ms=args.delivery_timeout_ms,
        shuffle_flush_ms=args.shuffle_flush_ms,
        payout_paid_after_ms=args.payout_paid_after_ms,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    app = create_app(config_from(args))
    # run_app handles SIGINT and SIGTERM: it stops accepting, runs cleanup, and returns.
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
