"""The `payments` command: embedded infrastructure, the whole system, and each service."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from devtools.infra.process import InfraError

Command = Callable[[argparse.Namespace], int]


def _infra(args: argparse.Namespace) -> int:
    from devtools.infra import stack
    from libs.common.settings import InfraSettings

    settings = InfraSettings()
    if args.action == "up":
        stack.up(settings)
    else:
        stack.down(settings)
    return 0


def _status(args: argparse.Namespace) -> int:
    from devtools.infra import stack
    from libs.common.settings import InfraSettings

    return 0 if stack.print_status(InfraSettings(), as_json=args.json) else 1


def _up(args: argparse.Namespace) -> int:
    from devtools.infra import supervisor
    from libs.common.settings import InfraSettings

    return supervisor.run(InfraSettings())


def _logs(args: argparse.Namespace) -> int:
    from devtools.infra import logs
    from libs.common.settings import InfraSettings

    return logs.show(InfraSettings().var_dir / "logs", args.service, sys.stdout, follow=args.follow)


def _ingest(args: argparse.Namespace) -> int:
    from services.ingest.commands import run

    return run(args)


def _orders(args: argparse.Namespace) -> int:
    from services.orders.__main__ import main as orders_main

    return orders_main([args.role])


def _dlq(args: argparse.Namespace) -> int:
    from services.dlq import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payments", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    infra = sub.add_parser("infra", help="start or stop the embedded infrastructure")
    infra.add_argument("action", choices=["up", "down"])
    infra.set_defaults(run=_infra)

    status = sub.add_parser("status", help="where each component listens and whether it answers")
    status.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    status.set_defaults(run=_status)

    up = sub.add_parser("up", help="infrastructure plus every service, in the foreground")
    up.set_defaults(run=_up)

    logs = sub.add_parser("logs", help="the logs under var/logs (all, or one service's)")
    logs.add_argument("service", nargs="?", help="e.g. ingest, orders-worker, kafka")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.set_defaults(run=_logs)

    from services.ingest.commands import add_arguments as ingest_arguments

    ingest = sub.add_parser("ingest", help="Stripe webhooks in, stripe.events out")
    ingest_arguments(ingest)
    ingest.set_defaults(run=_ingest)

    orders = sub.add_parser("orders", help="the orders Faust worker or its HTTP API")
    orders.add_argument("role", choices=["worker", "api"])
    orders.set_defaults(run=_orders)

    from services.dlq import add_arguments as dlq_arguments

    dlq = sub.add_parser("dlq", help="list, show or replay a topic's dead letters")
    dlq_arguments(dlq)
    dlq.set_defaults(run=_dlq)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Command = args.run
    try:
        return run(args)
    except InfraError as exc:
        print(f"payments: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
